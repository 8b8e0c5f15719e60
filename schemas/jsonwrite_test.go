// AppendJSONString and AppendMarshalJSONString.

package schemas

import (
	"encoding/json"
	"strings"
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

// AppendMarshalJSONString writes what json.Marshal writes.
func FuzzJSONString(f *testing.F) {
	for _, s := range []string{"", "plain", "<b>&\"\\\n\r\t\b\f\x00\x1f\x7f", "caf\u00e9 \u2028\u2029 \U0001F600", "bad \xff\xfe utf8 \xed\xa0\x80", strings.Repeat("é", 9)[:5]} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := AppendMarshalJSONString([]byte("x"), s); string(got) != "x"+string(want) {
			t.Fatalf("%q: got %s, want %s", s, got[1:], want)
		}
	})
}
