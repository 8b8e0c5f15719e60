#!/usr/bin/env bash
# Times `chainwatch detect` (file reading included) on one core for the
# sizes BENCHMARKS.md reports: n = m = 1000 Gaussian rows, d = 384, the
# current sample shifted by 0.1 in every coordinate.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=bin/chainwatch
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
python3 - "$dir" <<'PY'
import random, sys
d = sys.argv[1]
random.seed(7)
for name, shift in (("ref", 0.0), ("cur", 0.1)):
    with open(f"{d}/{name}.csv", "w") as f:
        for _ in range(1000):
            f.write(",".join("%.5f" % (random.gauss(0, 1) + shift) for _ in range(384)) + "\n")
PY
printf '%-20s %8s %8s %s\n' detector seconds drift p_value
for det in mmd lsdd learned_kernel_mmd energy centroid_cosine ks cvm mmd_online lsdd_online; do
  GOMAXPROCS=1 "$BIN" detect "$det" --ref "$dir/ref.csv" --cur "$dir/cur.csv" --seed 1 --json |
    python3 -c 'import json,sys; r=json.load(sys.stdin); p=r["p_value"]; p=min(p) if isinstance(p,list) else p; print("%-20s %8.3f %8s %s" % (r["detector"], r["seconds"], r["drift"], p))'
done
