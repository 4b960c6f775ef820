#!/usr/bin/env bash
# The issue-15 targets: the default `lgso run PROBLEM --seed S` (no config:
# L-GSO with preset auto, its default budget), seeds 1-5; per run the calls
# until the exact E[R] (the objective estimate for boston-nn) first reached
# the problem's target, the final value, the stop reason and the wall time.
#
#   bash bench/best/defaults.sh [OUT] [PROBLEMS...]
set -euo pipefail
cd "$(dirname "$0")/../.."
out="${1:-runs/defaults}"
shift || true
problems=("$@")
if [ ${#problems[@]} -eq 0 ]; then
    problems=(rosenbrock three-hump submanifold-rosenbrock submanifold-hump boston-nn)
fi
cargo build --release -p lgso-cli
mkdir -p "$out"
for problem in "${problems[@]}"; do
    for seed in 1 2 3 4 5; do
        dir="$out/$problem-s$seed"
        rm -rf "$dir"
        target/release/lgso run "$problem" --seed "$seed" --out "$dir" --quiet > /dev/null
        python3 - "$dir" "$problem" "$seed" <<'PY'
import csv, json, sys
d, problem, seed = sys.argv[1:]
s = json.load(open(f"{d}/summary.json"))
rows = list(csv.DictReader(open(f"{d}/trace.csv")))
target = {"rosenbrock": 1, "three-hump": -0.8, "submanifold-rosenbrock": 1,
          "submanifold-hump": -0.8, "boston-nn": 30}.get(problem)
col = "objective_exact" if rows[0]["objective_exact"] else "objective"
first = next((r["calls"] for r in rows if target is not None and float(r[col]) <= target), "never")
print(f"{problem} seed {seed}: first reach {first} calls ({col}), "
      f"final {float(rows[-1][col]):.4g} at {rows[-1]['calls']} calls, "
      f"{s['seconds_total']:.1f} s, stop {str(s['stop_reason'])[:40]}")
PY
    done
done
