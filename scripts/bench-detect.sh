#!/usr/bin/env bash
# Times `chainwatch detect` (the "seconds" it reports: detector time, file
# reading excluded) on one core for the sizes BENCHMARKS.md reports:
# n = m = 1000 Gaussian rows, d = 384, the current sample shifted by 0.1
# in every coordinate; context_mmd on n = m = 200, x 4-D, contexts 2-D.
#   BIN=path/to/chainwatch  the binary to time (default bin/chainwatch)
#   DETECTORS="mmd lsdd"    which detectors (default: all listed below)
#   RUNS=3                  runs of each
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-bin/chainwatch}
RUNS=${RUNS:-1}
DETECTORS=${DETECTORS:-"mmd lsdd learned_kernel_mmd energy centroid_cosine ks cvm mmd_online lsdd_online context_mmd"}
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
for name, cshift in (("cref", 0.0), ("ccur", 0.3)):
    with open(f"{d}/{name}_x.csv", "w") as fx, open(f"{d}/{name}_c.csv", "w") as fc:
        for _ in range(200):
            c = [random.gauss(cshift, 1) for _ in range(2)]
            fc.write(",".join("%.5f" % v for v in c) + "\n")
            fx.write(",".join("%.5f" % (c[i % 2] + 0.3 * random.gauss(0, 1)) for i in range(4)) + "\n")
PY
printf '%-20s %8s %8s %s\n' detector seconds drift p_value
for det in $DETECTORS; do
  args=(--ref "$dir/ref.csv" --cur "$dir/cur.csv")
  if [ "$det" = context_mmd ]; then
    args=(--ref "$dir/cref_x.csv" --cur "$dir/ccur_x.csv" --context-ref "$dir/cref_c.csv" --context-cur "$dir/ccur_c.csv")
  fi
  for _ in $(seq "$RUNS"); do
    GOMAXPROCS=1 taskset -c 0 "$BIN" detect "$det" "${args[@]}" --seed 1 --json |
      python3 -c 'import json,sys; r=json.load(sys.stdin); p=r["p_value"]; p=min(p) if isinstance(p,list) else p; print("%-20s %8.3f %8s %s" % (r["detector"], r["seconds"], r["drift"], p))'
  done
done
