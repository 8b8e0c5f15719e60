package embedtest_test

import (
	"math"
	"testing"

	"github.com/chainwatch/chainwatch/embedding/embedtest"
)

func TestVector(t *testing.T) {
	a, b, c := embedtest.Vector("hello", 32), embedtest.Vector("hello", 32), embedtest.Vector("hello!", 32)
	var norm float64
	same, differ := true, false
	for i := range a {
		norm += float64(a[i]) * float64(a[i])
		same = same && math.Float32bits(a[i]) == math.Float32bits(b[i])
		differ = differ || a[i] != c[i]
	}
	if !same || !differ {
		t.Fatalf("equal texts must give equal vectors (%v), different texts different ones (%v)", same, differ)
	}
	if math.Abs(norm-1) > 1e-5 {
		t.Fatalf("|v|² = %v", norm)
	}
	if len(embedtest.Vector("x", 5)) != 5 {
		t.Fatal("dimension")
	}
}
