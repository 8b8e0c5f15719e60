package evaluators

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// malformedError is a judge answer that is not a valid verdict.
type malformedError struct {
	attempts int
	err      error
}

func (e *malformedError) Error() string {
	return fmt.Sprintf("malformed judge output after %d attempt(s): %v", e.attempts, e.err)
}

func (e *malformedError) Unwrap() error { return e.err }

// unfence removes one Markdown code fence around the whole answer
// ("```json\n{...}\n```" or "```\n{...}\n```"), which many models add even
// when told not to. Anything outside the fence is still prose and rejected by
// the strict decoder.
func unfence(s string) string {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "```") || !strings.HasSuffix(s, "```") || len(s) < 6 {
		return s
	}
	inner := s[3 : len(s)-3]
	nl := strings.IndexByte(inner, '\n')
	if nl < 0 {
		return s
	}
	if lang := strings.TrimSpace(inner[:nl]); lang != "" && !strings.EqualFold(lang, "json") {
		return s
	}
	return strings.TrimSpace(inner[nl+1:])
}

// decodeStrict decodes exactly one JSON object into dst: no prose before or
// after it, no unknown fields.
func decodeStrict(content string, dst any) error {
	s := unfence(content)
	if !strings.HasPrefix(s, "{") {
		return errors.New("answer is not a JSON object")
	}
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(dst); err != nil {
		return fmt.Errorf("decoding verdict: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("text after the JSON object")
	}
	return nil
}

// pointwiseVerdict is the judge's answer in pointwise mode.
type pointwiseVerdict struct {
	Score     json.RawMessage `json:"score"` // raw, so "4" (a string) is rejected
	Reasoning *string         `json:"reasoning"`
}

// parsePointwise parses {"score": n, "reasoning": "..."} strictly: both
// fields present, score a whole number within [lo, hi], reasoning non-empty.
func parsePointwise(content string, lo, hi int) (int, string, error) {
	var v pointwiseVerdict
	if err := decodeStrict(content, &v); err != nil {
		return 0, "", err
	}
	if len(v.Score) == 0 {
		return 0, "", errors.New(`missing field "score"`)
	}
	if v.Reasoning == nil || strings.TrimSpace(*v.Reasoning) == "" {
		return 0, "", errors.New(`missing field "reasoning"`)
	}
	f, err := strconv.ParseFloat(string(v.Score), 64)
	if err != nil || math.Trunc(f) != f {
		return 0, "", fmt.Errorf("score %s is not a whole number", v.Score)
	}
	if f < float64(lo) || f > float64(hi) {
		return 0, "", fmt.Errorf("score %s is outside the scale %d–%d", v.Score, lo, hi)
	}
	return int(f), strings.TrimSpace(*v.Reasoning), nil
}

// pairwiseVerdict is the judge's answer in pairwise mode.
type pairwiseVerdict struct {
	Winner    *string `json:"winner"`
	Reasoning *string `json:"reasoning"`
}

// Positions a pairwise verdict may name.
const (
	winnerFirst  = "1"
	winnerSecond = "2"
	winnerTie    = "tie"
)

// parsePairwise parses {"winner": "1"|"2"|"tie", "reasoning": "..."} strictly.
func parsePairwise(content string) (string, string, error) {
	var v pairwiseVerdict
	if err := decodeStrict(content, &v); err != nil {
		return "", "", err
	}
	if v.Winner == nil {
		return "", "", errors.New(`missing field "winner"`)
	}
	if v.Reasoning == nil || strings.TrimSpace(*v.Reasoning) == "" {
		return "", "", errors.New(`missing field "reasoning"`)
	}
	w := strings.ToLower(strings.TrimSpace(*v.Winner))
	if w != winnerFirst && w != winnerSecond && w != winnerTie {
		return "", "", fmt.Errorf(`winner %q is not "1", "2" or "tie"`, *v.Winner)
	}
	return w, strings.TrimSpace(*v.Reasoning), nil
}

// compactJSON is used in re-ask messages to quote the bad answer briefly.
func compactJSON(s string) string {
	var b bytes.Buffer
	if json.Compact(&b, []byte(s)) == nil {
		return b.String()
	}
	return s
}
