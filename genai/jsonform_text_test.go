// DecodeJSONBatch refuses text that is not valid UTF-8.

package genai

import (
	"errors"
	"strconv"
	"strings"
	"testing"
)

// /v1/spans' decoder refuses invalid text (encoding/json would store U+FFFD
// in its place) with a *BatchError naming the span and field.
func TestDecodeJSONBatchInvalidText(t *testing.T) {
	span := func(extra string) string {
		return `{"trace_id":"0af7651916cd43dd8448eb211c80319c","span_id":"b7ad6b7169203331",` +
			`"start_time":"2025-10-09T08:53:20Z","end_time":"2025-10-09T08:53:21Z"` + extra + `}`
	}
	batch := func(spans ...string) string { return `{"spans":[` + strings.Join(spans, ",") + `]}` }
	tests := []struct {
		name, in, want string
		batchErr       bool
	}{
		{"input text", batch(span(""), span(""), span(",\"input_text\":\"caf\xe9\"")),
			"spans[2].input_text: invalid UTF-8 at byte " + itoa(strings.Index(batch(span(""), span(""), span(",\"input_text\":\"caf\xe9\"")), "\xe9")), true},
		{"attribute value", batch(span(",\"attributes\":{\"user.name\":\"\xff\"}")),
			"spans[0].attributes.user.name: invalid UTF-8 at byte " + itoa(strings.Index(batch(span(",\"attributes\":{\"user.name\":\"\xff\"}")), "\xff")), true},
		{"lone surrogate escape", batch(span(`,"output_text":"\udfff"`)),
			`spans[0].output_text: lone UTF-16 surrogate \udfff at byte ` + itoa(strings.Index(batch(span(`,"output_text":"\udfff"`)), `\udfff`)), true},
		{"outside the spans", "{\"note\":\"\xff\",\"spans\":[" + span("") + "]}", "note: invalid UTF-8 at byte 9", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := DecodeJSONBatch(strings.NewReader(tc.in))
			if err == nil {
				t.Fatalf("no error; stored %q", b.Spans[0].InputText)
			}
			if err.Error() != tc.want {
				t.Errorf("error\n %q, want\n %q", err, tc.want)
			}
			var be *BatchError
			if errors.As(err, &be) != tc.batchErr {
				t.Errorf("%T: *BatchError %v, want %v", err, !tc.batchErr, tc.batchErr)
			}
		})
	}
}

// itoa is strconv.Itoa of an offset found with strings.Index.
func itoa(i int) string {
	if i < 0 {
		panic("not found")
	}
	return strconv.Itoa(i)
}
