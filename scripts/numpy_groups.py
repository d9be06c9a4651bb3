#!/usr/bin/env python3
"""Per-group int quantization as a numpy user writes it: the baseline `quantviz bench
--granularity group:G --shape R,C` is measured against.

Asymmetric min-max with one scale and zero point per group of G consecutive values in a row
(AWQ's `w.reshape(-1, G)`), the notebook's formulas per group, vectorized over the groups:

    scale = (max - min) / (2^b - 1);  zero = -round(min / scale)
    q = clip(round(x / scale + zero), 0, 2^b - 1);  x_hat = (q - zero) * scale
    mse = mean((x - x_hat)^2)

on R x C float32 values (seeded normal), computed in float32 as numpy does for a float32
array. Timed: the min, max, scales, codes, dequantized values and the MSE; generating the data
is not. The figure is the minimum of R runs in milliseconds.

Usage: scripts/numpy_groups.py [--shape 4096,4096] [--group 128] [--bits 4] [--runs 5] [--json]
"""
import argparse
import json
import time

import numpy as np


def quantize_groups(w, group, bits):
    """Codes, dequantized values and MSE of asymmetric min-max per group of `group` values."""
    g = w.reshape(-1, group)
    lo = g.min(axis=1, keepdims=True)
    hi = g.max(axis=1, keepdims=True)
    qmax = 2**bits - 1
    scale = (hi - lo) / qmax
    scale[scale == 0] = 1  # a constant group: any scale reconstructs it
    zero = -np.round(lo / scale)
    q = np.clip(np.round(g / scale + zero), 0, qmax).astype(np.uint8)
    deq = (q - zero) * scale
    mse = float(np.mean((g - deq) ** 2))
    return q, deq, mse


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shape", default="4096,4096")
    ap.add_argument("--group", type=int, default=128)
    ap.add_argument("--bits", type=int, default=4)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    rows, cols = (int(v) for v in a.shape.split(","))
    if cols % a.group:
        raise SystemExit(f"error: the group {a.group} must divide the row length {cols} here")
    w = np.random.default_rng(42).standard_normal((rows, cols), dtype=np.float32)
    times = []
    mse = None
    for _ in range(a.runs):
        t0 = time.perf_counter()
        _, _, mse = quantize_groups(w, a.group, a.bits)
        times.append((time.perf_counter() - t0) * 1e3)
    out = {"rows": rows, "cols": cols, "group": a.group, "bits": a.bits,
           "ms_min": min(times), "mse": mse, "numpy": np.__version__}
    if a.json:
        print(json.dumps(out))
    else:
        print(f"numpy {np.__version__}: {rows}x{cols} float32, int{a.bits} group:{a.group} "
              f"asymmetric min-max: {min(times):.1f} ms (min of {a.runs}), MSE {mse:.6g}")


if __name__ == "__main__":
    main()
