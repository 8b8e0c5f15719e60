#!/usr/bin/env bash
# fuzz-one.sh GO PKG TARGET FUZZTIME: fuzz one target (make fuzz).
#
# Go 1.26's fuzzing coordinator can fail a target with a bare "context
# deadline exceeded" at the -fuzztime boundary when a worker is slow to
# stop (a loaded machine): a race in the toolchain (go.dev/issue/75804,
# fixed in Go 1.27), not a finding. A real finding writes its input under
# testdata/fuzz/ and says "Failing input written". So: a run that fails
# with that message and nothing else is run again, twice at most; every
# other failure fails at once.
#
# -fuzzminimizetime 10s: Go minimizes every new interesting input for up
# to 60 s by default, during which a target runs at "0 execs/sec" — most
# of a short run went there. A failing input is still written, only less
# minimized.
set -uo pipefail
go=$1 pkg=$2 target=$3 fuzztime=$4
for try in 1 2 3; do
  out=$(mktemp)
  "$go" test -run='^$' -fuzz="^${target}\$" -fuzztime="$fuzztime" -fuzzminimizetime=10s "$pkg" 2>&1 | tee "$out"
  rc=${PIPESTATUS[0]}
  if [ "$rc" -eq 0 ]; then rm -f "$out"; exit 0; fi
  if grep -q 'context deadline exceeded' "$out" && ! grep -qE 'Failing input written|panic:|_test\.go:[0-9]+:' "$out"; then
    echo "fuzz: $target stopped with the toolchain's fuzztime race (go.dev/issue/75804), no failing input; again (try $try of 3)"
    rm -f "$out"
    continue
  fi
  rm -f "$out"
  exit "$rc"
done
echo "fuzz: $target hit the toolchain's fuzztime race three times in a row"
exit 1
