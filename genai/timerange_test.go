// The storable time range on the OTLP and JSON paths.

package genai

import (
	"strings"
	"testing"
	"time"

	"github.com/chainwatch/chainwatch/schemas"
)

// unixNano2200 is 2200-01-01T00:00:00Z, which a DateTime column wraps to
// 2063-11-24.
const unixNano2200 = uint64(7258118400) * 1e9

// The range's ends are accepted on the OTLP path (1 ns: zero is unset) and
// mapped to exactly those times.
func TestOTLPSpanTimeBoundariesAccepted(t *testing.T) {
	for _, tc := range []struct {
		name       string
		start, end uint64
	}{
		{"first instant after the epoch", 1, 2},
		{"last storable instant", schemas.MaxStorableUnixNano, schemas.MaxStorableUnixNano},
		{"ending at the last storable instant", schemas.MaxStorableUnixNano - 1e9, schemas.MaxStorableUnixNano},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sp := testSpan()
			sp.StartTimeUnixNano, sp.EndTimeUnixNano = tc.start, tc.end
			req := request(nil, sp)
			if err := ValidateOTLP(req); err != nil {
				t.Fatal(err)
			}
			s := mapOne(t, req)
			if uint64(s.StartTime.UnixNano()) != tc.start || uint64(s.EndTime.UnixNano()) != tc.end {
				t.Errorf("mapped %v .. %v", s.StartTime, s.EndTime)
			}
		})
	}
	// The writer's decoding (AppendSpans) refuses what the collector
	// refuses: a record that bypassed the collector is dead-lettered, never
	// stored wrapped.
	sp := testSpan()
	sp.StartTimeUnixNano, sp.EndTimeUnixNano = unixNano2200, unixNano2200
	if spans, err := AppendSpans(nil, request(nil, sp, testSpan())); err == nil || len(spans) != 1 ||
		!strings.Contains(err.Error(), "start_time_unix_nano: 2200-01-01T00:00:00Z is outside the storable range") {
		t.Errorf("AppendSpans kept %d spans, error %v", len(spans), err)
	}
}

// The range's ends are accepted on the chainwatch JSON path too, and come
// back exact.
func TestJSONSpanTimeBoundariesAccepted(t *testing.T) {
	for _, tc := range []struct{ start, end string }{
		{"1970-01-01T00:00:00.000000001Z", "1970-01-01T00:00:01Z"},
		{"2106-02-07T06:28:15Z", "2106-02-07T06:28:15Z"},
		{"2106-02-07T07:28:14+01:00", "2106-02-07T07:28:15+01:00"},
	} {
		in := `{"spans":[{"trace_id":"0af7651916cd43dd8448eb211c80319c","span_id":"b7ad6b7169203331","start_time":"` + tc.start + `","end_time":"` + tc.end + `"}]}`
		b, err := DecodeJSONBatch(strings.NewReader(in))
		if err != nil {
			t.Errorf("%s..%s: %v", tc.start, tc.end, err)
			continue
		}
		start, _ := time.Parse(time.RFC3339Nano, tc.start)
		end, _ := time.Parse(time.RFC3339Nano, tc.end)
		got := roundTrip(t, b)[0]
		if !got.StartTime.Equal(start) || !got.EndTime.Equal(end) {
			t.Errorf("%s..%s: stored as %v..%v", tc.start, tc.end, got.StartTime, got.EndTime)
		}
	}
}

// The OTLP wire-level check (the collector's protobuf fast path) is the same
// function; it names the field.
func TestCheckSpanFieldsTimes(t *testing.T) {
	id16, id8 := mustHex(testTraceID), mustHex(testSpanID)
	for _, tc := range []struct {
		start, end    uint64
		field, reason string
	}{
		{0, 1, "start_time_unix_nano", "must not be zero"},
		{unixNano2200, unixNano2200, "start_time_unix_nano", "2200-01-01T00:00:00Z is outside"},
		{1, unixNano2200, "end_time_unix_nano", "2200-01-01T00:00:00Z is outside"},
		{1, schemas.MaxStorableUnixNano, "", ""},
	} {
		field, reason := CheckSpanFields(id16, id8, nil, tc.start, tc.end)
		if field != tc.field || !strings.HasPrefix(reason, tc.reason) {
			t.Errorf("CheckSpanFields(%d, %d) = %q %q", tc.start, tc.end, field, reason)
		}
	}
}
