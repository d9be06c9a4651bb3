#!/usr/bin/env python3
"""The notebook's numpy code on the benchmark workload: the baseline quantviz is measured against.

The workload is the notebook's percentile example scaled up: N float64 values uniform(-50, 150),
the last set to 1000 (the outlier), 8 bits. Four figures, in milliseconds, each the minimum (and
the median) of R runs; generating the data is not timed:

  asym      asymmetric_quantization + asymmetric_dequantize            (min-max)
  sym       symmetric_quantization + symmetric_dequantize              (absmax)
  pct       asymmetric_quantization_percentile + asymmetric_dequantize (99.99)
  all3+mse  the three above, each followed by quantization_error (its MSE)

The functions below are the notebook's, copied as they are (only type hints trimmed).

Usage: scripts/numpy_baseline.py [--n N] [--runs R] [--seed S] [--json]
"""
import argparse
import json
import statistics
import sys
import time

import numpy as np


# ---- the notebook's functions, verbatim ------------------------------------------------------

def clamp(params_q, lower_bound, upper_bound):
    params_q[params_q < lower_bound] = lower_bound
    params_q[params_q > upper_bound] = upper_bound
    return params_q


def asymmetric_quantization(params, bits):
    alpha = np.max(params)
    beta = np.min(params)
    scale = (alpha - beta) / (2**bits-1)
    zero = -1*np.round(beta / scale)
    lower_bound, upper_bound = 0, 2**bits-1
    quantized = clamp(np.round(params / scale + zero), lower_bound, upper_bound).astype(np.int32)
    return quantized, scale, zero


def symmetric_quantization(params, bits):
    alpha = np.max(np.abs(params))
    scale = alpha / (2**(bits-1)-1)
    lower_bound = -2**(bits-1)
    upper_bound = 2**(bits-1)-1
    quantized = clamp(np.round(params / scale), lower_bound, upper_bound).astype(np.int32)
    return quantized, scale


def asymmetric_quantization_percentile(params, bits, percentile=99.99):
    alpha = np.percentile(params, percentile)
    beta = np.percentile(params, 100-percentile)
    scale = (alpha - beta) / (2**bits-1)
    zero = -1*np.round(beta / scale)
    lower_bound, upper_bound = 0, 2**bits-1
    quantized = clamp(np.round(params / scale + zero), lower_bound, upper_bound).astype(np.int32)
    return quantized, scale, zero


def asymmetric_dequantize(params_q, scale, zero):
    return (params_q - zero) * scale


def symmetric_dequantize(params_q, scale):
    return params_q * scale


def quantization_error(params, params_q):
    return np.mean((params - params_q)**2)


# ---- the four figures ------------------------------------------------------------------------

BITS = 8


def fig_asym(params):
    q, scale, zero = asymmetric_quantization(params, BITS)
    return q, asymmetric_dequantize(q, scale, zero)


def fig_sym(params):
    q, scale = symmetric_quantization(params, BITS)
    return q, symmetric_dequantize(q, scale)


def fig_pct(params):
    q, scale, zero = asymmetric_quantization_percentile(params, BITS)
    return q, asymmetric_dequantize(q, scale, zero)


def fig_all3_mse(params):
    _, d = fig_asym(params)
    e_asym = quantization_error(params, d)
    _, d = fig_sym(params)
    e_sym = quantization_error(params, d)
    _, d = fig_pct(params)
    e_pct = quantization_error(params, d)
    return e_asym, e_sym, e_pct


FIGURES = [("asym", fig_asym), ("sym", fig_sym), ("pct", fig_pct), ("all3+mse", fig_all3_mse)]


def workload(n, seed):
    """N values uniform(-50, 150), the last set to 1000 (the notebook's outlier)."""
    rng = np.random.default_rng(seed)
    params = rng.uniform(low=-50, high=150, size=n)
    params[-1] = 1000
    return params


def time_ms(fn, params, runs):
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        out = fn(params)
        times.append((time.perf_counter() - t0) * 1e3)
        del out
    return min(times), statistics.median(times)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000, help="number of values (default 1,000,000)")
    ap.add_argument("--runs", type=int, default=5, help="runs per figure (default 5)")
    ap.add_argument("--seed", type=int, default=42, help="data seed (default 42)")
    ap.add_argument("--json", action="store_true", help="print JSON, as `quantviz bench --json`")
    args = ap.parse_args(argv)
    if args.n < 2 or args.runs < 1:
        ap.error("--n must be at least 2 and --runs at least 1")

    params = workload(args.n, args.seed)
    ms_min, ms_median = {}, {}
    for name, fn in FIGURES:
        ms_min[name], ms_median[name] = time_ms(fn, params, args.runs)

    if args.json:
        print(json.dumps({"n": args.n, "ms_min": ms_min, "ms_median": ms_median}))
    else:
        print(f"numpy {np.__version__}, n = {args.n:,}, {args.runs} runs, 8 bits (ms)")
        print(f"{'figure':<10} {'min':>10} {'median':>10}")
        for name, _ in FIGURES:
            print(f"{name:<10} {ms_min[name]:>10.3f} {ms_median[name]:>10.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
