// AppendJSONString.

package schemas

import (
	"encoding/json"
	"testing"
)

func TestAppendJSONString(t *testing.T) {
	for in, want := range map[string]string{
		"plain":           `"plain"`,
		"q\"b\\n\n\t\x01": `"q\"b\\n\n\t\u0001"`,
		"é😀":              `"é😀"`,
		"bad\xffutf8":     `"bad\ufffdutf8"`,
	} {
		got := string(AppendJSONString(nil, in))
		if got != want {
			t.Errorf("AppendJSONString(%q) = %s, want %s", in, got, want)
		}
		var back string
		if err := json.Unmarshal([]byte(got), &back); err != nil {
			t.Errorf("%s: %v", got, err)
		}
	}
}
