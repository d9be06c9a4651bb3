#!/usr/bin/env python3
"""The quantization formats as a numpy user writes them: the baseline quantviz's formats are
measured against.

Each format is written vectorized from its definition (tests/fixtures/formats and
scripts/make_format_fixtures.py hold the references): reshape into blocks, one array operation
at a time, the nearest code by an argmin over the broadcast distances (what bitsandbytes' torch
backend and gguf's MXFP4 do), processed in chunks of 2^20 values so that the (values x 16)
distance arrays stay small. Each figure is quantize + dequantize + the error (MSE, float64) on
N seeded normal float32 values, in milliseconds, the minimum of R runs; making the data is not
timed.

Needs numpy and ml_dtypes (`python3 -m pip install numpy ml_dtypes`).

Usage: scripts/numpy_formats.py [--n N] [--runs R] [--seed S] [--formats q4_0,nf4,...]
Prints JSON: {"q4_0": ms_min, "q4_1": ..., ...}.
"""
import argparse
import json
import sys
import time

import ml_dtypes
import numpy as np

F32 = np.float32
CHUNK = 1 << 20

NF4 = np.array([
    -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
    -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
    0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
    0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0], dtype=F32)

# E2M1 elements in ggml's code order.
E2M1 = np.array([0, 0.5, 1, 1.5, 2, 3, 4, 6, 0, -0.5, -1, -1.5, -2, -3, -4, -6], dtype=F32)


def chunked(fn, x, block):
    """fn over consecutive chunks of whole blocks; the results concatenated."""
    step = max(block, CHUNK - CHUNK % block)
    parts = [fn(x[i:i + step]) for i in range(0, len(x), step)]
    return tuple(np.concatenate(p) for p in zip(*parts))


def q4_0(x):
    b = x.reshape(-1, 32)
    i = np.abs(b).argmax(axis=1)
    m = b[np.arange(len(b)), i][:, None]
    d = m / F32(-8)
    with np.errstate(divide="ignore"):
        inv = np.where(d == 0, F32(0), F32(1) / d)
    q = np.minimum(np.trunc(b * inv + F32(8.5)), 15).astype(np.int8)
    d16 = d.astype(np.float16).astype(F32)
    return q.reshape(-1), ((q - 8).astype(F32) * d16).reshape(-1)


def q4_1(x):
    b = x.reshape(-1, 32)
    lo = b.min(axis=1, keepdims=True)
    hi = b.max(axis=1, keepdims=True)
    d = (hi - lo) / F32(15)
    with np.errstate(divide="ignore"):
        inv = np.where(d == 0, F32(0), F32(1) / d)
    q = np.minimum(np.trunc((b - lo) * inv + F32(0.5)), 15).astype(np.int8)
    d16 = d.astype(np.float16).astype(F32)
    m16 = lo.astype(np.float16).astype(F32)
    return q.reshape(-1), (q.astype(F32) * d16 + m16).reshape(-1)


def q8_0(x):
    b = x.reshape(-1, 32)
    d = np.abs(b).max(axis=1, keepdims=True) / F32(127)
    with np.errstate(divide="ignore"):
        inv = np.where(d == 0, F32(0), F32(1) / d)
    t = b * inv
    q = (np.sign(t) * np.floor(np.abs(t) + F32(0.5))).astype(np.int8)  # half away from zero
    d16 = d.astype(np.float16).astype(F32)
    return q.reshape(-1), (q.astype(F32) * d16).reshape(-1)


def nearest_e2m1(b, scale):
    """Codes and values of the E2M1 elements times `scale` (one per row) nearest each value."""
    grid = scale[:, :, None] * E2M1[None, None, :]
    q = np.abs(grid - b[:, :, None]).argmin(axis=2)
    return q, np.take_along_axis(grid, q[:, :, None], axis=2)[:, :, 0]


def mxfp4_chunk(x):
    b = x.reshape(-1, 32)
    amax = np.abs(b).max(axis=1, keepdims=True)
    with np.errstate(divide="ignore"):
        e = np.where(amax > 0, np.floor(np.log2(amax)) - 2, -127)
    q, y = nearest_e2m1(b, np.exp2(e).astype(F32))
    return q.reshape(-1), y.reshape(-1)


def mxfp4(x):
    return chunked(mxfp4_chunk, x, 32)


def ue4m3(v):
    """Unsigned E4M3 rounding of positive float32 values (saturating at 448)."""
    v = np.minimum(v, F32(448))
    e = np.floor(np.log2(np.maximum(v, F32(2.0 ** -6))))
    step = np.exp2(e - 3)
    return (np.round(v / step) * step).astype(F32)


def nvfp4_chunk(x):
    b = x.reshape(-1, 16)
    s = ue4m3(np.abs(b).max(axis=1, keepdims=True) / F32(6))
    q, y = nearest_e2m1(b, s)
    return q.reshape(-1), y.reshape(-1)


def nvfp4(x):
    return chunked(nvfp4_chunk, x, 64)


def nf4_chunk(x, block=64):
    b = x.reshape(-1, block)
    absmax = np.abs(b).max(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.clip(b * (F32(1) / absmax), -1, 1)
    q = np.abs(s[:, :, None] - NF4[None, None, :]).argmin(axis=2)
    return q.reshape(-1), (NF4[q] * absmax).reshape(-1)


def nf4(x):
    return chunked(nf4_chunk, x, 64)


def fp8(x, dtype, fmax):
    amax = float(np.abs(x).max())
    scale = F32(fmax / max(amax, 1e-12))
    y = np.clip(x * scale, -fmax, fmax).astype(dtype)
    return y.view(np.uint8), y.astype(F32) / scale


FORMATS = {
    "q4_0": q4_0,
    "q4_1": q4_1,
    "q8_0": q8_0,
    "mxfp4": mxfp4,
    "nvfp4": nvfp4,
    "nf4": nf4,
    "fp8-e4m3": lambda x: fp8(x, ml_dtypes.float8_e4m3fn, 448.0),
    "fp8-e5m2": lambda x: fp8(x, ml_dtypes.float8_e5m2, 57344.0),
}


def figure(fn, x):
    """Quantize, dequantize, and the MSE of the dequantized values (float64)."""
    _, y = fn(x)
    err = x.astype(np.float64) - y
    return float(np.mean(err * err))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=16_777_216, help="values (default 2^24)")
    ap.add_argument("--runs", type=int, default=5, help="runs per format (default 5)")
    ap.add_argument("--seed", type=int, default=42, help="data seed (default 42)")
    ap.add_argument("--formats", default=",".join(FORMATS), help="comma-separated formats")
    args = ap.parse_args(argv)
    names = args.formats.split(",")
    unknown = [f for f in names if f not in FORMATS]
    if unknown or args.n < 64 or args.n % 64 or args.runs < 1:
        ap.error(f"formats from {', '.join(FORMATS)}; --n a positive multiple of 64; --runs >= 1")
    x = np.random.default_rng(args.seed).standard_normal(args.n, dtype=F32)
    out = {}
    for name in names:
        times = []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            figure(FORMATS[name], x)
            times.append((time.perf_counter() - t0) * 1e3)
        out[name] = round(min(times), 3)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
