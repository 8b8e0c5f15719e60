package detectors

import (
	"math"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"
)

func TestQuantile7Fixture(t *testing.T) {
	s := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	if q := quantile7(s, 0.9); math.Abs(q-9.1) > 1e-12 {
		t.Fatalf("type-7 quantile = %v, want 9.1", q)
	}
}

func TestOnlineThresholdsDropStreams(t *testing.T) {
	// Three steps, 10 streams: at step 0 the 0.9 quantile of 1..10 is 9.1,
	// dropping the stream with 10; at step 1 the survivors' values 1..9
	// give 8.2.
	stats := make([][]float64, 10)
	for b := range stats {
		v := float64(b + 1)
		stats[b] = []float64{v, v, v}
	}
	thr := onlineThresholds(stats, 0.1)
	want := []float64{9.1, 8.2, 7.3}
	for i := range want {
		if math.Abs(thr[i]-want[i]) > 1e-12 {
			t.Fatalf("thresholds %v, want %v", thr, want)
		}
	}
}

// windowOf returns the current test window's rows in slot order.
func windowOf(m *OnlineMMD) *mat.Dense {
	var rows []float64
	n := 0
	for _, r := range m.win {
		if r != nil {
			rows = append(rows, r...)
			n++
		}
	}
	return mat.NewDense(n, len(rows)/n, rows)
}

// TestOnlineMMDIncremental checks the O(W) updates against MMD²_u computed
// from scratch on the reference window and the test window.
func TestOnlineMMDIncremental(t *testing.T) {
	rng := NewRand(41)
	ref := gaussSample(rng, 60, 3, nil)
	for _, sigma := range [][]float64{nil, {0.7, 2}} {
		det, err := NewOnlineMMD(ref, OnlineOptions{ERT: 20, WindowSize: 5, NBootstraps: 200, Sigma: sigma, Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		for step := range 12 {
			x := gaussSample(rng, 1, 3, []float64{0.5}).RawRowView(0)
			r := det.Update(x)
			want := directMMD2(det.ref, windowOf(det), det.Sigma())
			if math.Abs(r.Statistic-want) > 1e-10 || r.Time != step {
				t.Fatalf("step %d: statistic %v (time %d), from scratch %v", step, r.Statistic, r.Time, want)
			}
		}
	}
}

// runLengths streams N(shift, I_d) rows into det (after Reset) until the
// first detection or maxLen, for runs runs, and returns the mean run
// length (Time + 1 at detection; maxLen counted for runs without one).
func runLengths(det interface {
	Update([]float64) OnlineResult
	Reset()
}, rng interface{ NormFloat64() float64 }, d int, shift float64, runs, maxLen int) float64 {
	var total float64
	x := make([]float64, d)
	for range runs {
		det.Reset()
		l := maxLen
		for t := range maxLen {
			for j := range x {
				x[j] = rng.NormFloat64() + shift
			}
			if det.Update(x).Drift {
				l = t + 1
				break
			}
		}
		total += float64(l)
	}
	return total / float64(runs)
}

// TestOnlineMMDRunLength: ERT 50, W 10, d 2, N(0, I) reference of 300 rows,
// 500 bootstraps (10·ERT). Mean run length under no change over 20
// references × 100 runs must be within 15 % of ERT (the standard error of
// the mean of 2000 roughly geometric run lengths is ~1.1, plus the spread
// between references); after a +1 shift in every coordinate the mean
// delay must be short (< W).
func TestOnlineMMDRunLength(t *testing.T) {
	testOnlineRunLength(t, "MMD", func(ref *mat.Dense, o OnlineOptions) (onlineDetector, error) {
		return NewOnlineMMD(ref, o)
	})
}

type onlineDetector interface {
	Update([]float64) OnlineResult
	Reset()
}

func testOnlineRunLength(t *testing.T, name string, build func(*mat.Dense, OnlineOptions) (onlineDetector, error)) {
	const ert, W, d = 50, 10, 2
	rng := NewRand(42)
	var null, delay float64
	const refs = 20
	for s := range refs {
		ref := gaussSample(rng, 300, d, nil)
		det, err := build(ref, OnlineOptions{ERT: ert, WindowSize: W, NBootstraps: 10 * ert, Seed: uint64(s)})
		if err != nil {
			t.Fatal(err)
		}
		null += runLengths(det, rng, d, 0, 100, 20*ert) / refs
		delay += runLengths(det, rng, d, 1, 20, 20*ert) / refs
	}
	t.Logf("online %s, ERT %d, W %d: mean run length under no change %.1f; mean detection delay after +1 shift %.2f (run length incl. the detecting instance)", name, ert, W, null, delay)
	if math.Abs(null-ert) > 0.15*ert {
		t.Errorf("mean run length %.1f not within 15%% of ERT %d", null, ert)
	}
	if delay >= W {
		t.Errorf("mean delay %.2f ≥ W", delay)
	}
}

func TestOnlineValidation(t *testing.T) {
	ref := gaussSample(NewRand(1), 30, 2, nil)
	for _, tc := range []struct {
		o    OnlineOptions
		want string
	}{
		{OnlineOptions{ERT: 1, WindowSize: 5}, "ert"},
		{OnlineOptions{ERT: 50, WindowSize: 1}, "window_size"},
		{OnlineOptions{ERT: 50, WindowSize: 5, NBootstraps: -1}, "n_bootstraps"},
		{OnlineOptions{ERT: 50, WindowSize: 5, Sigma: []float64{-1}}, "sigma"},
		{OnlineOptions{ERT: 50, WindowSize: 20}, "window_size"},
		{OnlineOptions{ERT: 50, WindowSize: 5, LambdaRDMax: 3}, "lambda_rd_max"},
	} {
		_, err := NewOnlineMMD(ref, tc.o)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("mmd %+v: error %v, want one naming %s", tc.o, err, tc.want)
		}
		_, err = NewOnlineLSDD(ref, tc.o)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("lsdd %+v: error %v, want one naming %s", tc.o, err, tc.want)
		}
	}
	for _, o := range []OnlineOptions{
		{ERT: 50, WindowSize: 5, Sigma: []float64{1, 2}},
		{ERT: 50, WindowSize: 5, NKernelCenters: 25},
	} {
		if _, err := NewOnlineLSDD(ref, o); err == nil {
			t.Errorf("lsdd %+v accepted", o)
		}
	}
}

func TestOnlineLSDDRunLength(t *testing.T) {
	testOnlineRunLength(t, "LSDD", func(ref *mat.Dense, o OnlineOptions) (onlineDetector, error) {
		return NewOnlineLSDD(ref, o)
	})
}

// TestOnlineLSDDIncremental checks the running window sum against h
// recomputed from the raw window rows.
func TestOnlineLSDDIncremental(t *testing.T) {
	rng := NewRand(43)
	ref := gaussSample(rng, 80, 3, nil)
	det, err := NewOnlineLSDD(ref, OnlineOptions{ERT: 20, WindowSize: 4, NBootstraps: 200, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	var xs [][]float64
	for step := range 15 {
		x := gaussSample(rng, 1, 3, []float64{0.5}).RawRowView(0)
		xs = append(xs, x)
		r := det.Update(x)
		if step < 3 {
			continue // the window still holds initial reference points
		}
		win := mat.NewDense(4, 3, nil)
		for i, row := range xs[len(xs)-4:] {
			det.st.applyRow(win.RawRowView(i), row)
		}
		k := GaussianKernelMatrix(win, det.cent, []float64{det.Sigma()})
		_, nc := k.Dims()
		h := mat.NewDense(1, nc, nil)
		for j := range nc {
			h.Set(0, j, det.refMu[j]-mat.Sum(k.ColView(j))/4)
		}
		if want := quadForms(h, det.hinv)[0]; math.Abs(r.Statistic-want) > 1e-12 {
			t.Fatalf("step %d: statistic %v, from scratch %v", step, r.Statistic, want)
		}
	}
}

// BenchmarkOnline times construction (N = 1000, d = 32, W = 20, ERT 100,
// 1000 bootstraps) and one Update.
func BenchmarkOnline(b *testing.B) {
	rng := NewRand(1)
	ref := gaussSample(rng, 1000, 32, nil)
	o := OnlineOptions{ERT: 100, WindowSize: 20}
	x := gaussSample(rng, 1, 32, nil).RawRowView(0)
	b.Run("mmd_configure", func(b *testing.B) {
		for b.Loop() {
			if _, err := NewOnlineMMD(ref, o); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("lsdd_configure", func(b *testing.B) {
		for b.Loop() {
			if _, err := NewOnlineLSDD(ref, o); err != nil {
				b.Fatal(err)
			}
		}
	})
	m, _ := NewOnlineMMD(ref, o)
	b.Run("mmd_update", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			m.Update(x)
		}
	})
	l, _ := NewOnlineLSDD(ref, o)
	b.Run("lsdd_update", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			l.Update(x)
		}
	})
}
