package metrics

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func newCounter() *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Subsystem: "test", Name: "things_total", Help: "Things."}, []string{"kind"})
}

// A second identical collector shares the first one's series; a clashing
// one is an error; a nil registry registers nothing.
func TestRegister(t *testing.T) {
	reg := prometheus.NewRegistry()
	a, b := newCounter(), newCounter()
	if err := Register(reg, &a); err != nil {
		t.Fatal(err)
	}
	if err := Register(reg, &b); err != nil {
		t.Fatal(err)
	}
	b.WithLabelValues("x").Inc()
	if got := testutil.ToFloat64(a.WithLabelValues("x")); got != 1 {
		t.Fatalf("the second registration does not share the series: %v", got)
	}
	clash := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: Namespace, Subsystem: "test", Name: "things_total", Help: "Other."})
	if err := Register(reg, &clash); err == nil {
		t.Fatal("a clashing collector was accepted")
	}
	c := newCounter()
	if err := Register(nil, &c); err != nil || c == nil {
		t.Fatal("nil registry")
	}
}
