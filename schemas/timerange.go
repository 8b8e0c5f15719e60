package schemas

import (
	"math"
	"time"
)

// The storable time range. Span start and end times and feedback times are
// stored in ClickHouse columns whose type depends on the server (see
// TableDDL): DateTime64(6) from 20.3, DateTime (unsigned 32-bit seconds
// since the epoch) before it. A DateTime outside 1970-01-01T00:00:00Z ..
// 2106-02-07T06:28:15Z wraps around silently — a span of 2200 is stored as
// 2063 — and DateTime64's range is wider. The collector does not know which
// server is behind Kafka (and the server may be upgraded under the data), so
// it accepts the range every supported server stores exactly, the
// intersection, and refuses anything outside it with a 400 naming the field.
// The writer applies the same rule to span records (records that bypassed
// the collector are dead-lettered, never wrapped).
//
// start_unix_nano (UInt64) holds every time of the range exactly, to the
// nanosecond; DateTime columns keep whole seconds of it.
const (
	// MinStorableUnixNano is 1970-01-01T00:00:00Z.
	MinStorableUnixNano uint64 = 0
	// MaxStorableUnixNano is 2106-02-07T06:28:15Z, DateTime's largest value.
	MaxStorableUnixNano uint64 = math.MaxUint32 * 1e9
)

var (
	// MinStorableTime is the earliest time every supported server stores
	// exactly.
	MinStorableTime = time.Unix(0, int64(MinStorableUnixNano)).UTC()
	// MaxStorableTime is the latest time every supported server stores
	// exactly.
	MaxStorableTime = time.Unix(0, int64(MaxStorableUnixNano)).UTC()
)

// storableRange is the range as error messages write it.
var storableRange = MinStorableTime.Format(time.RFC3339) + ".." + MaxStorableTime.Format(time.RFC3339)

// CheckStorableTime returns "" when t is inside the storable range
// (MinStorableTime..MaxStorableTime, both included), else the reason, e.g.
// "2200-01-01T00:00:00Z is outside the storable range
// 1970-01-01T00:00:00Z..2106-02-07T06:28:15Z".
func CheckStorableTime(t time.Time) string {
	if t.Before(MinStorableTime) || t.After(MaxStorableTime) {
		return outsideRange(t)
	}
	return ""
}

// CheckStorableUnixNano is CheckStorableTime for an OTLP time in nanoseconds
// since the epoch; every uint64 value is formatted correctly.
func CheckStorableUnixNano(ns uint64) string {
	if ns > MaxStorableUnixNano {
		return outsideRange(time.Unix(int64(ns/1e9), int64(ns%1e9)))
	}
	return ""
}

func outsideRange(t time.Time) string {
	return t.UTC().Format(time.RFC3339Nano) + " is outside the storable range " + storableRange
}
