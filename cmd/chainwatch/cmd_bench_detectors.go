package main

import (
	"context"
	"flag"
	"fmt"
	"math"
	"os"
	"runtime"
	"strings"
	"syscall"
	"time"

	"gonum.org/v1/gonum/mat"

	"github.com/chainwatch/chainwatch/detectors"
)

// `chainwatch bench detectors`: how the kernel detectors' cost grows with
// the sample size n (= m) and the dimension d (issue 16). It times MMD and
// LSDD (B = 100) and context-aware MMD (d = 4, c = 2, B as given) on
// Gaussian samples, prints a Markdown table (the fastest wall-clock time
// and the least process CPU time of --reps runs: on a shared machine the
// CPU time is the steadier measure) and writes the log–log plot of the CPU
// times as an SVG. Run it on one core for numbers comparable with
// BENCHMARKS.md:
//
//	GOMAXPROCS=1 taskset -c 0 chainwatch bench detectors --svg docs/detectors-scaling.svg

type scalingPoint struct {
	detector string
	axis     string // "n" or "d"
	n, d     int
	seconds  float64 // fastest wall-clock time of the runs
	cpu      float64 // least process CPU time of the runs (user + system)
}

func runBenchDetectors(_ context.Context, args []string) error {
	fs := flag.NewFlagSet("bench detectors", flag.ContinueOnError)
	svgPath := fs.String("svg", "", "write the plot here (SVG)")
	reps := fs.Int("reps", 3, "runs per point; the fastest is reported")
	ns := fs.String("n", "250,500,1000,2000,4000", "sample sizes n = m for the n sweep (d = 384)")
	ds := fs.String("d", "32,96,384,768,1536", "dimensions for the d sweep (n = m = 1000)")
	ctxNs := fs.String("context-n", "100,200,400", "sample sizes for context-aware MMD (d = 4)")
	ctxB := fs.Int("context-permutations", 100, "permutations B for context-aware MMD (its default is 1000; the cost is about linear in B)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	parse := func(name, s string) ([]int, error) {
		least := 10 // rows: the tests need a few per side and per fold
		if name == "d" {
			least = 1
		}
		var out []int
		for _, f := range splitList(s) {
			var v int
			if _, err := fmt.Sscan(f, &v); err != nil || v < least {
				return nil, fmt.Errorf("--%s: %q is not a size ≥ %d", name, f, least)
			}
			out = append(out, v)
		}
		return out, nil
	}
	nList, err := parse("n", *ns)
	if err != nil {
		return err
	}
	dList, err := parse("d", *ds)
	if err != nil {
		return err
	}
	cList, err := parse("context-n", *ctxNs)
	if err != nil {
		return err
	}
	timeIt := func(run func() error) (wall, cpu float64, err error) {
		wall, cpu = math.Inf(1), math.Inf(1)
		for range max(1, *reps) {
			t0, c0 := time.Now(), processCPUSeconds()
			if err := run(); err != nil {
				return 0, 0, err
			}
			wall, cpu = min(wall, time.Since(t0).Seconds()), min(cpu, processCPUSeconds()-c0)
		}
		return wall, cpu, nil
	}
	var pts []scalingPoint
	add := func(det, axis string, n, d int, run func() error) error {
		s, c, err := timeIt(run)
		if err != nil {
			return fmt.Errorf("%s n=%d d=%d: %w", det, n, d, err)
		}
		fmt.Fprintf(os.Stderr, "%-12s n=%-5d d=%-5d %.4f s wall, %.4f s CPU\n", det, n, d, s, c)
		pts = append(pts, scalingPoint{det, axis, n, d, s, c})
		return nil
	}
	kernelPair := func(axis string, n, d int) error {
		rng := detectors.NewRand(1)
		x, y := gaussMatrix(rng, n, d), gaussMatrix(rng, n, d)
		if err := add("mmd", axis, n, d, func() error {
			_, err := detectors.MMD(x, y, detectors.MMDOptions{NPermutations: 100})
			return err
		}); err != nil {
			return err
		}
		return add("lsdd", axis, n, d, func() error {
			_, err := detectors.LSDD(x, y, detectors.LSDDOptions{NPermutations: 100})
			return err
		})
	}
	for _, n := range nList {
		if err := kernelPair("n", n, 384); err != nil {
			return err
		}
	}
	for _, d := range dList {
		if err := kernelPair("d", 1000, d); err != nil {
			return err
		}
	}
	for _, n := range cList {
		rng := detectors.NewRand(9)
		x, cx := gaussMatrix(rng, n, 4), gaussMatrix(rng, n, 2)
		y, cy := gaussMatrix(rng, n, 4), gaussMatrix(rng, n, 2)
		if err := add("context_mmd", "n", n, 4, func() error {
			_, err := detectors.ContextMMD(x, y, cx, cy, detectors.ContextMMDOptions{NPermutations: *ctxB})
			return err
		}); err != nil {
			return err
		}
	}
	fmt.Printf("GOMAXPROCS=%d, %s/%s, fastest of %d; MMD and LSDD B = 100, context-aware MMD B = %d\n\n",
		runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH, *reps, *ctxB)
	fmt.Println("| detector | n = m | d | seconds (wall) | seconds (CPU) |\n|---|---|---|---|---|")
	for _, p := range pts {
		fmt.Printf("| %s | %d | %d | %.4f | %.4f |\n", p.detector, p.n, p.d, p.seconds, p.cpu)
	}
	if *svgPath != "" {
		title := fmt.Sprintf("CPU seconds, GOMAXPROCS=%d; MMD, LSDD B=100; context MMD B=%d, d=4", runtime.GOMAXPROCS(0), *ctxB)
		if err := os.WriteFile(*svgPath, []byte(scalingSVG(pts, title)), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func gaussMatrix(rng interface{ NormFloat64() float64 }, n, d int) *mat.Dense {
	m := mat.NewDense(n, d, nil)
	raw := m.RawMatrix().Data
	for i := range raw {
		raw[i] = rng.NormFloat64()
	}
	return m
}

// scalingSVG draws two log–log panels — CPU seconds against n (d = 384;
// the context-aware test at d = 4) and against d (n = 1000) — one line
// per detector.
func scalingSVG(pts []scalingPoint, title string) string {
	const w, h, pw, ph, left, top = 960, 420, 380, 300, 70, 50
	colors := map[string]string{"mmd": "#1f77b4", "lsdd": "#d62728", "context_mmd": "#2ca02c"}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", w, h)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", w, h)
	fmt.Fprintf(&b, `<text x="%d" y="22" font-size="14">chainwatch detectors, one run: %s</text>`+"\n", left, title)
	ymin, ymax := math.Inf(1), math.Inf(-1)
	for _, p := range pts {
		ymin, ymax = min(ymin, p.cpu), max(ymax, p.cpu)
	}
	ylo, yhi := math.Floor(math.Log10(ymin)), math.Ceil(math.Log10(ymax))
	if yhi <= ylo {
		yhi = ylo + 1
	}
	for panel, axis := range []string{"n", "d"} {
		x0 := left + panel*(pw+110)
		var xs []int
		for _, p := range pts {
			if p.axis == axis {
				xs = append(xs, map[string]int{"n": p.n, "d": p.d}[axis])
			}
		}
		if len(xs) == 0 {
			continue
		}
		xmin, xmax := xs[0], xs[0]
		for _, v := range xs {
			xmin, xmax = min(xmin, v), max(xmax, v)
		}
		xlo, xhi := math.Log10(float64(xmin))-0.05, math.Log10(float64(xmax))+0.05
		px := func(v float64) float64 { return float64(x0) + (math.Log10(v)-xlo)/(xhi-xlo)*pw }
		py := func(v float64) float64 { return float64(top) + (yhi-math.Log10(v))/(yhi-ylo)*ph }
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#888"/>`+"\n", x0, top, pw, ph)
		for e := ylo; e <= yhi; e++ {
			y := py(math.Pow(10, e))
			fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/><text x="%d" y="%.1f" text-anchor="end">1e%d s</text>`+"\n",
				x0, y, x0+pw, y, x0-4, y+4, int(e))
		}
		seen := map[int]bool{}
		for _, v := range xs {
			if seen[v] {
				continue
			}
			seen[v] = true
			x := px(float64(v))
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/><text x="%.1f" y="%d" text-anchor="middle">%d</text>`+"\n",
				x, top, x, top+ph, x, top+ph+16, v)
		}
		label := "n = m (d = 384; context MMD d = 4)"
		if axis == "d" {
			label = "d (n = m = 1000)"
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">%s</text>`+"\n", x0+pw/2, top+ph+34, label)
		ly := top + 14
		for _, det := range []string{"mmd", "lsdd", "context_mmd"} {
			var path []string
			for _, p := range pts {
				if p.axis != axis || p.detector != det {
					continue
				}
				v := map[string]int{"n": p.n, "d": p.d}[axis]
				x, y := px(float64(v)), py(p.cpu)
				path = append(path, fmt.Sprintf("%.1f,%.1f", x, y))
				fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>`+"\n", x, y, colors[det])
			}
			if len(path) == 0 {
				continue
			}
			fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2"/>`+"\n", strings.Join(path, " "), colors[det])
			fmt.Fprintf(&b, `<text x="%d" y="%d" fill="%s">%s</text>`+"\n", x0+8, ly, colors[det], det)
			ly += 16
		}
	}
	b.WriteString("</svg>\n")
	return b.String()
}

// processCPUSeconds is this process's user + system CPU time so far.
func processCPUSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return math.NaN()
	}
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}
