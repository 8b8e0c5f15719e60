#!/usr/bin/python3
"""Generate scipy_golden.json: deterministic inputs and scipy's outputs for the
univariate tests in detectors/ (ks_2samp asymp and exact, kstwo.sf,
chi2_contingency, cramervonmises_2samp, fisher_exact, wasserstein_distance,
energy_distance).

Run with Debian's scipy (python3-scipy, 1.10.1 on Debian 12):

    /usr/bin/python3 detectors/testdata/gen_scipy_golden.py > detectors/testdata/scipy_golden.json

The inputs are stored in the JSON, so the Go tests do not depend on numpy's
generator. Floats are written with repr(), which round-trips exactly.
"""
import json
import sys

import numpy as np
import scipy
from scipy import stats


def sample(rng, kind, n):
    if kind == "normal":
        return rng.standard_normal(n)
    if kind == "shifted":
        return rng.standard_normal(n) + 0.3
    if kind == "ties":  # continuous data rounded to one decimal
        return np.round(rng.standard_normal(n), 1)
    if kind == "discrete":  # small integers
        return rng.poisson(3.0, n).astype(float)
    if kind == "exp":
        return rng.exponential(1.0, n)
    raise ValueError(kind)


def lst(a):
    return [float(v) for v in a]


def main():
    rng = np.random.RandomState(20261124)
    out = {"scipy_version": scipy.__version__, "numpy_version": np.__version__}

    # Two-sample cases shared by KS, CvM, Wasserstein and energy distance.
    specs = [
        (8, 6, "normal", "normal"), (5, 5, "normal", "shifted"),
        (3, 7, "normal", "normal"), (10, 20, "normal", "shifted"),
        (20, 20, "ties", "ties"), (15, 18, "discrete", "discrete"),
        (30, 25, "normal", "exp"), (50, 50, "ties", "ties"),
        (100, 80, "normal", "shifted"), (200, 200, "normal", "normal"),
        (300, 500, "discrete", "discrete"), (500, 300, "normal", "shifted"),
        (1000, 1000, "exp", "exp"), (1500, 2000, "normal", "shifted"),
        (4000, 3000, "normal", "normal"),
    ]
    pairs = []
    for n, m, ka, kb in specs:
        a, b = sample(rng, ka, n), sample(rng, kb, m)
        pairs.append({"name": f"{ka}{n}_{kb}{m}", "a": lst(a), "b": lst(b)})
    # The DETECTORS.md fixture.
    pairs.insert(0, {"name": "fixture", "a": [.1, .4, .35, .8, .5, .9, .05, .6],
                     "b": [.7, .95, .85, .3, 1.2, 1.1]})
    out["pairs"] = pairs

    ks = []
    for c in pairs:
        a, b = np.array(c["a"]), np.array(c["b"])
        r = stats.ks_2samp(a, b, mode="asymp")
        e = {"name": c["name"], "d": float(r.statistic), "p_asymp": float(r.pvalue)}
        if len(a) * len(b) <= 250000:
            e["p_exact"] = float(stats.ks_2samp(a, b, mode="exact").pvalue)
        ks.append(e)
    out["ks_2samp"] = ks

    kstwo = []
    for n in [1, 2, 3, 5, 10, 25, 50, 100, 140, 141, 200, 500, 1000, 5000, 20000, 100000]:
        for z in [0.3, 0.5, 0.7, 0.9, 1.0, 1.2, 1.36, 1.5, 1.8, 2.0, 2.5, 3.0, 4.0]:
            x = z / np.sqrt(n)
            if x >= 1:
                continue
            kstwo.append({"n": n, "x": float(x), "sf": float(stats.kstwo.sf(x, n))})
        for x in [0.55, 0.75, 0.95]:
            kstwo.append({"n": n, "x": x, "sf": float(stats.kstwo.sf(x, n))})
    out["kstwo_sf"] = kstwo

    cvm = []
    for c in pairs:
        a, b = np.array(c["a"]), np.array(c["b"])
        r = stats.cramervonmises_2samp(a, b)  # method='auto'
        e = {"name": c["name"], "stat": float(r.statistic), "p_auto": float(r.pvalue),
             "p_asymptotic": float(stats.cramervonmises_2samp(a, b, method="asymptotic").pvalue)}
        if max(len(a), len(b)) <= 20:
            e["p_exact"] = float(stats.cramervonmises_2samp(a, b, method="exact").pvalue)
        cvm.append(e)
    out["cramervonmises_2samp"] = cvm

    out["wasserstein_distance"] = [
        {"name": c["name"], "value": float(stats.wasserstein_distance(c["a"], c["b"]))} for c in pairs]
    out["energy_distance"] = [
        {"name": c["name"], "value": float(stats.energy_distance(c["a"], c["b"]))} for c in pairs]

    tables = [
        [[10, 20, 30], [15, 15, 10]], [[30, 20], [18, 32]], [[5, 5], [5, 6]],
        [[1, 2], [3, 4]], [[0, 5], [5, 0]], [[100, 200, 300, 400], [110, 190, 310, 390]],
        [[3, 1, 4, 1, 5], [9, 2, 6, 5, 3]], [[12, 0, 7], [3, 9, 2], [4, 4, 4]],
        [[1000, 10], [900, 30]], [[7, 13, 1, 0.5], [2, 2, 2, 2]],
    ]
    for _ in range(6):
        k = rng.randint(2, 8)
        tables.append(rng.poisson(rng.uniform(2, 50), (2, k)).astype(int).tolist())
    chi = []
    for t in tables:
        t = [[float(v) for v in row] for row in t]
        stat, p, dof, _ = stats.chi2_contingency(t)
        chi.append({"table": t, "stat": float(stat), "p": float(p), "dof": int(dof)})
    out["chi2_contingency"] = chi

    fisher_tables = [
        (8, 2, 1, 5), (1, 9, 11, 3), (0, 5, 5, 0), (0, 0, 3, 4), (3, 0, 0, 4),
        (10, 10, 10, 10), (2, 7, 8, 2), (100, 50, 80, 90), (5, 500, 15, 480),
        (1, 1000, 10, 1000), (12, 5, 7, 7), (0, 10, 3, 10), (40, 3000, 80, 3200),
    ]
    fisher = []
    for a, b, c, d in fisher_tables:
        orr, p = stats.fisher_exact([[a, b], [c, d]])
        # JSON has no inf/nan: non-finite odds ratios are written as strings.
        orr = float(orr) if np.isfinite(orr) else str(orr)
        fisher.append({"table": [a, b, c, d], "odds_ratio": orr, "p": float(p)})
    out["fisher_exact"] = fisher

    json.dump(out, sys.stdout, indent=1, allow_nan=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
