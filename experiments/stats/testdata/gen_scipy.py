#!/usr/bin/python3
"""Golden values for experiments/stats from scipy (Debian python3-scipy 1.10).

Run once by hand (`/usr/bin/python3 gen_scipy.py > scipy_golden.json`) and
commit the JSON: the Go tests read the JSON, so CI needs no scipy.

Wilcoxon: zero_method="wilcox" (zeros dropped), two-sided. Cases without
ties use method="exact"; cases with ties, or n > 50, use method="approx"
with correction=True (continuity correction; scipy always applies the tie
correction to the variance) — the same choice experiments/stats makes.
McNemar: the exact two-sided binomial test on the discordant pairs
(binomtest(min(b,c), b+c, 0.5)). Wilson: binomtest(k, n).proportion_ci(
method="wilson").
"""
import json
import numpy as np
from scipy import stats

rng = np.random.default_rng(20261206)
out = {"scipy": __import__("scipy").__version__, "wilcoxon": [], "mcnemar": [], "wilson": []}

def wil(name, d, method):
    d = [float(v) for v in d]
    kw = {"method": method}
    if method == "approx":
        kw["correction"] = True
    # scipy's exact mode falls back to the normal approximation when there
    # are zeros; Wilcoxon's rule drops them first, so hand it the non-zeros.
    nz = [v for v in d if v != 0] if method == "exact" else d
    r = stats.wilcoxon(nz, zero_method="wilcox", **kw)
    out["wilcoxon"].append({"name": name, "d": d, "method": "exact" if method == "exact" else "normal",
                            "statistic": float(r.statistic), "p": float(r.pvalue)})

wil("small_exact", [1.5, -0.5, 2.25, 3.0, -1.75, 0.8, 1.1], "exact")
wil("exact_n12", list(np.round(rng.normal(0.3, 1, 12), 6)), "exact")
wil("exact_n30", list(np.round(rng.normal(0.2, 1, 30), 6)), "exact")
wil("exact_n50", list(np.round(rng.normal(-0.1, 1, 50), 6)), "exact")
wil("exact_with_zeros", [0.0, 0.0, 1.0, 2.5, -0.25, 3.5, 4.75, -6.0, 0.125], "exact")
wil("ties_small", [1, 1, -1, 2, 2, 2, -3, 0.5, 0.5, 4], "approx")
wil("ties_judge_scale", list(rng.integers(-2, 3, 40) * 0.25), "approx")
wil("ties_with_zeros", [0, 0, 0, 1, 1, -1, 1, 2, -2, 1, 1, 0.5], "approx")
wil("normal_n80", list(np.round(rng.normal(0.15, 1, 80), 6)), "approx")
wil("normal_n200_ties", list(np.round(rng.normal(0.0, 1, 200), 1)), "approx")

for b, c in [(0, 0), (1, 0), (5, 0), (6, 1), (3, 3), (10, 2), (2, 10), (25, 12), (40, 60), (100, 130), (7, 0)]:
    n = b + c
    p = 1.0 if n == 0 else float(stats.binomtest(min(b, c), n, 0.5).pvalue)
    out["mcnemar"].append({"b": b, "c": c, "p": p})

for k, n in [(0, 10), (3, 10), (10, 10), (37, 50), (120, 200), (1, 1)]:
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    out["wilson"].append({"k": k, "n": n, "lo": float(ci.low), "hi": float(ci.high)})

print(json.dumps(out, indent=1))
