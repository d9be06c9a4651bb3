#!/usr/bin/env python3
"""KL calibration: quantviz against the reference's own numpy loop, on 16,777,216 values.

The reference here is `scripts/make_kl_fixtures.py`'s port of NVIDIA pytorch-quantization's
entropy calibration, as that code runs: `np.histogram` of |x| in 2048 bins, then
`_compute_amax_entropy`'s Python loop over the 1921 candidates (one `scipy.stats.entropy` each).
Its data: N(0, 1) float32 from numpy's generator, widened to float64. quantviz's figure is
`quantviz bench --calibration kl --n N --json` (symmetric int, 8 bits): its own N(0, 1) float32
values, timed for the statistics, the KL calibration and the error of the quantization, so it
times more than the reference does. Each side's best of its runs; the two chosen thresholds
are printed to show both did the same work.

Builds nothing: run `cargo build --release` first. Usage:
    scripts/bench_kl.py [--n 16777216] [--bits 8] [--rounds 2] [--runs 5]
"""
import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_kl_fixtures import abs_histogram, entropy_amax  # noqa: E402
from bench import machine  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
QUANTVIZ = os.path.join(ROOT, "target", "release", "quantviz")
TARGET = 20.0


def reference_ms(x, bits):
    start = time.perf_counter()
    hist, edges = abs_histogram(x)
    _, best, _, amax = entropy_amax(hist, edges, bits, False)
    return (time.perf_counter() - start) * 1e3, best, amax


def quantviz_ms(n, bits, runs):
    out = subprocess.run(
        [QUANTVIZ, "bench", "--calibration", "kl", "--bits", str(bits), "--n", str(n),
         "--runs", str(runs), "--json"],
        check=True, capture_output=True, text=True,
    ).stdout
    return json.loads(out)["ms_min"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=16_777_216)
    ap.add_argument("--bits", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()
    x = np.random.default_rng(0).standard_normal(a.n).astype(np.float32).astype(np.float64)
    ref, ours = [], []
    for _ in range(a.rounds):
        ours.append(quantviz_ms(a.n, a.bits, a.runs))
        ms, best, amax = reference_ms(x, a.bits)
        ref.append(ms)
    r, q = min(ref), min(ours)
    print(f"machine: {machine()}")
    print(f"reference (numpy port, its Python loop): {r:.0f} ms  (bin {best}, amax {amax!r})")
    print(f"quantviz bench --calibration kl:          {q:.1f} ms")
    print(f"speed-up: {r / q:.0f}x (target {TARGET:.0f}x)")


if __name__ == "__main__":
    main()
