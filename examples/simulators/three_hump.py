#!/usr/bin/env python3
"""The probabilistic three-hump simulator (paper section 4.1) speaking lgso
simulator protocol v1 (docs/protocol.md). Python 3, standard library only.

Run it through lgso, e.g.

    lgso bench-protocol --simulator 'python3 examples/simulators/three_hump.py'

The model is the one of crates/lgso/src/problem/three_hump.rs:

    x1 ~ U(-2, 2), x2 ~ U(0, 5)
    h(p) = 2 p1^2 - 1.05 p1^4 + p1^6 / 6 + p1 p2 + p2^2   (three-hump camel)
    loc_j ~ N(x_j h(psi), 1), j = 1, 2
    component 1 with probability |psi1| / (|psi1| + |psi2|), else 2
    y ~ N(loc_j, 1)

and the objective lgso minimizes is R(y) = -(sigmoid(y) - sigmoid(y - 10)).
The samples are drawn with Python's Mersenne Twister seeded with the
request's seed, so they are reproducible, but they differ from the samples of
lgso's in-process three-hump (ChaCha8); the distribution is the same.

A template for your own simulator: keep the loop in main(), replace
simulate(), and adjust the handshake.
"""

import json
import math
import random
import sys

PROTOCOL = "lgso-simulator/1"

HANDSHAKE = {
    "protocol": PROTOCOL,
    "psi_dim": 2,
    "x_dim": 2,
    "y_dim": 1,
    "name": "three-hump (Python example)",
    "psi_names": ["psi1", "psi2"],
    # Optional box bounds, one [lo, hi] per psi coordinate, e.g.
    # "bounds": [[-5, 5], [-5, 5]],
}


def h(p1, p2):
    """The three-hump camel function."""
    return 2 * p1**2 - 1.05 * p1**4 + p1**6 / 6 + p1 * p2 + p2**2


def simulate(psi, samples, seed):
    """Draws `samples` pairs (x, y) at psi from an RNG seeded with `seed`.

    Returns (x rows, y rows); raises ValueError where the model is undefined.
    """
    if len(psi) != 2:
        raise ValueError(f"psi has {len(psi)} entries, expected 2")
    p1, p2 = psi
    total = abs(p1) + abs(p2)
    if total == 0:
        raise ValueError(
            "psi = (0, 0): the mixture probabilities |psi_j| / (|psi_1| + |psi_2|) are undefined"
        )
    hp = h(p1, p2)
    if not math.isfinite(hp):
        raise ValueError(f"h(psi) overflows at psi = {psi}")
    prob_first = abs(p1) / total
    rng = random.Random(seed)
    xs, ys = [], []
    for _ in range(samples):
        x1 = rng.uniform(-2.0, 2.0)
        x2 = rng.uniform(0.0, 5.0)
        loc1 = x1 * hp + rng.gauss(0.0, 1.0)
        loc2 = x2 * hp + rng.gauss(0.0, 1.0)
        loc = loc1 if rng.random() < prob_first else loc2
        xs.append([x1, x2])
        ys.append([loc + rng.gauss(0.0, 1.0)])
    return xs, ys


def main():
    # Protocol v1: the handshake is the first line on stdout; then one batch
    # per line on stdin, one answer per line on stdout (flushed); logs go to
    # stderr; end of file on stdin means shut down.
    print(json.dumps(HANDSHAKE), flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        batch = json.loads(line)
        results = []
        for req in batch["requests"]:
            try:
                x, y = simulate(req["psi"], req["samples"], req["seed"])
                results.append({"request": req["request"], "x": x, "y": y})
            except (ValueError, OverflowError) as e:
                print(f"three_hump.py: request {req['request']}: {e}", file=sys.stderr)
                results.append({"request": req["request"], "error": str(e)})
        print(json.dumps({"batch": batch["batch"], "results": results}), flush=True)


if __name__ == "__main__":
    main()
