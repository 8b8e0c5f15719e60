package schemas

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCheckJSONText(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want string // "" for no error
	}{
		{"valid", `{"spans":[{"input_text":"très 😀 \u00e9 \ufffd"}]}`, ""},
		{"surrogate pair escape", `{"a":"\ud83d\ude00 and \uD83D\uDE00"}`, ""},
		{"escaped backslash before ud800", `{"a":"\\ud800"}`, ""},
		{"U+FFFD sent as such", "{\"a\":\"\xef\xbf\xbd\"}", ""},
		{"invalid byte in a value", "{\"spans\":[{},{},{\"input_text\":\"ab\xffc\"}]}", "spans[2].input_text: invalid UTF-8 at byte 33"},
		{"truncated sequence", "{\"a\":[1,true,null,\"x\xe2\x82\"]}", "a[3]: invalid UTF-8 at byte 20"},
		{"encoded surrogate", "{\"a\":\"\xed\xa0\x80\"}", "a: invalid UTF-8 at byte 6"},
		{"overlong encoding", "{\"a\":\"\xc0\xaf\"}", "a: invalid UTF-8 at byte 6"},
		{"invalid byte in a key", "{\"spans\":[{\"attributes\":{\"k\xff\":\"v\"}}]}", "spans[0].attributes: a key holds invalid UTF-8 at byte 27"},
		{"path through an odd key", "{\"a b\":{\"c\":\"\xff\"}}", `["a b"].c: invalid UTF-8 at byte 13`},
		{"escaped key in the path", "{\"\\u0061\":\"\xff\"}", "a: invalid UTF-8 at byte 11"},
		{"lone high surrogate", `{"spans":[{"name":"x\ud800y"}]}`, `spans[0].name: lone UTF-16 surrogate \ud800 at byte 20`},
		{"lone high surrogate at the end", `{"n":"\uD800"}`, `n: lone UTF-16 surrogate \uD800 at byte 6`},
		{"high surrogate then a non-surrogate", `{"n":"\ud800\u0041"}`, `n: lone UTF-16 surrogate \ud800 at byte 6`},
		{"two high surrogates", `{"n":"\ud800\ud800"}`, `n: lone UTF-16 surrogate \ud800 at byte 6`},
		{"lone low surrogate", `{"n":"ok\udc00"}`, `n: lone UTF-16 surrogate \udc00 at byte 8`},
		{"top-level string", "\"\xff\"", "invalid UTF-8 at byte 1"},
		{"first bad string wins", "{\"a\":\"\xff\",\"b\":\"\\udc00\"}", "a: invalid UTF-8 at byte 6"},
		// Malformed documents are the decoder's to report.
		{"syntax error first", "{\"a\":,\"b\":\"\xff\"}", ""},
		{"invalid byte outside a string", "{\"a\":\xff}", ""},
		{"after the first value", "{}\"\xff\"", ""},
		{"bad escape", "{\"a\":\"\\x\xff\"}", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckJSONText([]byte(tc.doc))
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("error %q, want none", err)
			case tc.want != "" && err == nil:
				t.Errorf("no error, want %q", tc.want)
			case tc.want != "" && err.Error() != tc.want:
				t.Errorf("error\n %q, want\n %q", err, tc.want)
			}
		})
	}
}

func TestCheckJSONTextDeepNesting(t *testing.T) {
	doc := strings.Repeat("[", 20000) + "\"\xff\"" + strings.Repeat("]", 20000)
	if err := CheckJSONText([]byte(doc)); err != nil {
		t.Errorf("beyond encoding/json's depth limit the decoder reports, got %v", err)
	}
	doc = strings.Repeat("[", 100) + "\"\xff\"" + strings.Repeat("]", 100)
	if err := CheckJSONText([]byte(doc)); err == nil || !strings.HasPrefix(err.Error(), "[0][0]") {
		t.Errorf("got %v", err)
	}
}

// FuzzCheckJSONText: on well-formed JSON, CheckJSONText passes exactly the
// documents encoding/json decodes without substituting U+FFFD (for inputs
// that hold no U+FFFD of their own), and a reported offset lies in the
// document.
func FuzzCheckJSONText(f *testing.F) {
	for _, s := range []string{`{"a":"b"}`, "{\"a\":\"\xff\"}", `["\ud800"]`, `{"\udc00":1}`, `"\ud83d\ude00"`, `[1,{"k":[true,null,"x"]}]`, "{\"k\xff\":2}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		err := CheckJSONText(doc)
		if err != nil && (err.Offset < 0 || err.Offset >= len(doc)) {
			t.Fatalf("offset %d outside a document of %d bytes", err.Offset, len(doc))
		}
		if !json.Valid(doc) || bytes.Contains(doc, []byte("\uFFFD")) || bytes.Contains(bytes.ToLower(doc), []byte(`\ufffd`)) {
			return
		}
		var v any
		if json.Unmarshal(doc, &v) != nil {
			return // e.g. too deep
		}
		if got, want := err != nil, holdsReplacement(v); got != want {
			t.Fatalf("CheckJSONText = %v, but encoding/json substituted U+FFFD: %v (doc %q)", err, want, doc)
		}
	})
}

func holdsReplacement(v any) bool {
	switch v := v.(type) {
	case string:
		return strings.ContainsRune(v, utf8.RuneError)
	case []any:
		for _, e := range v {
			if holdsReplacement(e) {
				return true
			}
		}
	case map[string]any:
		for k, e := range v {
			if strings.ContainsRune(k, utf8.RuneError) || holdsReplacement(e) {
				return true
			}
		}
	}
	return false
}
