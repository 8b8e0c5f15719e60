package schemas

import (
	"math"
	"testing"
	"time"
)

// unixNano2200 is 2200-01-01T00:00:00Z, which a DateTime column wraps to
// 2063-11-24.
const unixNano2200 = uint64(7258118400) * 1e9

// The storable range is exactly what a ClickHouse DateTime holds (unsigned
// 32-bit seconds), which every supported server's DateTime64(6) holds too.
func TestStorableRange(t *testing.T) {
	if !MinStorableTime.Equal(time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("MinStorableTime = %v", MinStorableTime)
	}
	if !MaxStorableTime.Equal(time.Date(2106, 2, 7, 6, 28, 15, 0, time.UTC)) || MaxStorableTime.Unix() != math.MaxUint32 {
		t.Errorf("MaxStorableTime = %v (%d)", MaxStorableTime, MaxStorableTime.Unix())
	}
	if MaxStorableUnixNano > math.MaxInt64 {
		t.Error("MaxStorableUnixNano does not fit a time.Duration / int64 nanoseconds")
	}
	if uint64(time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()) != unixNano2200 {
		t.Error("unixNano2200 is wrong")
	}
	for _, tc := range []struct {
		t    time.Time
		want string
	}{
		{MinStorableTime, ""},
		{MaxStorableTime, ""},
		{MaxStorableTime.Add(time.Nanosecond), "2106-02-07T06:28:15.000000001Z is outside the storable range 1970-01-01T00:00:00Z..2106-02-07T06:28:15Z"},
		{MinStorableTime.Add(-time.Nanosecond), "1969-12-31T23:59:59.999999999Z is outside the storable range 1970-01-01T00:00:00Z..2106-02-07T06:28:15Z"},
		{time.Date(1960, 1, 1, 0, 0, 0, 0, time.FixedZone("x", 3600)), "1959-12-31T23:00:00Z is outside the storable range 1970-01-01T00:00:00Z..2106-02-07T06:28:15Z"},
	} {
		if got := CheckStorableTime(tc.t); got != tc.want {
			t.Errorf("CheckStorableTime(%v) = %q, want %q", tc.t, got, tc.want)
		}
	}
}
