#!/usr/bin/env bash
# The README's "Results" comparison: L-GSO with no settings (preset auto)
# against CMA-ES at each of its sample sizes, 5 seeds, the same call budget
# per problem for both, every drawn y charged. Writes one bench directory
# per problem under OUT (default runs/best): bench.md, results.csv and the
# plot of E[R] against calls, each method at its best setting.
#
#   bash bench/best/run.sh [OUT] [JOBS]
set -euo pipefail
cd "$(dirname "$0")/../.."
out="${1:-runs/best}"
jobs="${2:-2}"
cargo build --release -p lgso-cli
mkdir -p "$out"
# problem:budget (calls; enough for CMA-ES at its best sample size to reach
# the target on most seeds)
for pb in ${PROBLEMS:-rosenbrock:10000 three-hump:10000 submanifold-rosenbrock:20000 \
          submanifold-hump:10000 boston-nn:20000}; do
    problem="${pb%%:*}"
    budget="${pb##*:}"
    rm -rf "${out:?}/$problem"
    target/release/lgso bench --problems "$problem" --methods lgso,cmaes \
        --seeds 5 --seed 1 --budget "$budget" --jobs "$jobs" --quiet \
        --sweep cmaes.samples=1,3,10,30 --out "$out/$problem" > /dev/null \
        || echo "($problem: some runs failed; bench.md counts them)"
    echo "== $problem (budget $budget)"
    sed -n '/^## Each method at its best/,/^## /p' "$out/$problem/bench.md" | head -20
done
