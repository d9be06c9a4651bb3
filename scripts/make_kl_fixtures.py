#!/usr/bin/env python3
"""Fixtures for the KL (entropy) calibration: NVIDIA pytorch-quantization's method, in numpy.

A port written from pytorch_quantization/calib/histogram.py (TensorRT repository,
tools/pytorch-quantization): torch is not needed, since both parts this uses run in numpy there.

- The histogram is `calibrate_weights`'s: `np.histogram(|x|, bins=2048, range=(0, max|x|))`,
  here on float64 values (quantviz holds its data in float64; the float32 data files below are
  widened exactly). `HistogramCalibrator.collect`'s default `torch.histc` path is not used: it
  bins in float32 and can put a value that lies on an edge into the neighbouring bin.
- The search is `_compute_amax_entropy` with its defaults (stride 1, start_bin 128), step by
  step as that function runs it (see `entropy_amax`), its divergence `scipy.stats.entropy`.

Writes tests/fixtures/kl/<data>.npy (float32 values; float64 for the subnormal ranges) and tests/fixtures/kl/expected.json: per
case the histogram, every candidate's divergence (repr of the float64; "inf"/"nan" as strings),
the chosen bin and the returned amax. Run from the repository root:

    python3 scripts/make_kl_fixtures.py

`entropy_amax` is also what scripts/bench_kl.py times as the reference's own loop.
"""
import json
import os
import sys
from collections import Counter

import numpy as np
from scipy.stats import entropy

NUM_BINS = 2048
START_BIN = 128
STRIDE = 1


def abs_histogram(x):
    """calibrate_weights: the histogram of |x| over [0, max|x|] in 2048 bins."""
    a = np.abs(np.asarray(x, dtype=np.float64))
    return np.histogram(a, bins=NUM_BINS, range=(0, a.max()))


def entropy_amax(calib_hist, calib_bin_edges, num_bits, unsigned):
    """_compute_amax_entropy, operation for operation.

    Returns (divergences, chosen bin i, edge at i as float64, amax as float32)."""
    bins = calib_hist.copy()
    # The reference copies bin 1 into bin 0 (the zeros of a ReLU would dominate otherwise).
    bins[0] = bins[1]
    total_data = np.sum(bins)
    divergences = []
    # 2^(b-1) levels for a signed grid, 2^b unsigned.
    nbins = 1 << (num_bits - 1 + int(unsigned))
    stop = len(bins)
    counts = np.zeros(nbins, dtype=np.float64)
    for i in range(START_BIN, stop + 1, STRIDE):
        counts.fill(0)
        # Source bin j goes to target digitize(j, linspace(0, i, nbins + 1)) - 1 ...
        space = np.linspace(0, i, num=nbins + 1)
        target = np.digitize(range(i), space) - 1
        # ... unless it is empty.
        target[bins[:i] == 0] = -1
        for j, t in enumerate(target):
            if t != -1:
                counts[t] += bins[j]
        # Each target's total shared equally among its non-empty sources.
        for t, k in Counter(target).items():
            if t != -1:
                counts[t] = counts[t] / k
        q = np.zeros(i, dtype=np.float64)
        for j, t in enumerate(target):
            if t != -1:
                q[j] = counts[t]
        total_new = np.sum(q) + np.sum(bins[i:])
        # The tail beyond the candidate is folded into its last bin.
        p = np.array(bins[: len(target)])
        p[-1] += np.sum(bins[i:])
        total_old = np.sum(p)
        if round(total_new) != total_data or round(total_old) != total_data:
            raise RuntimeError("count mismatch")
        # The reference's own normalization is a no-op (it rebinds a local name);
        # scipy.stats.entropy divides both by their sums.
        divergences.append(entropy(p, q))
    divergences = np.array(divergences)
    last_argmin = len(divergences) - 1 - np.argmin(divergences[::-1])
    best = last_argmin * STRIDE + START_BIN
    edge = calib_bin_edges[best]
    # torch.tensor(edge.item()) makes a float32 tensor.
    return divergences, best, float(edge), float(np.float32(edge))


def num(v):
    v = float(v)
    if np.isnan(v):
        return "nan"
    if np.isinf(v):
        return "inf" if v > 0 else "-inf"
    return v


def data_sets():
    rng = np.random.default_rng(20260)
    n = 40_000
    normal = rng.standard_normal(n).astype(np.float32)
    laplace = rng.laplace(0.0, 1.0, n).astype(np.float32)
    outliers = rng.standard_normal(n).astype(np.float32)
    where = rng.choice(n, size=6, replace=False)
    outliers[where] = np.array([40, -35, 60, -80, 25, 50], dtype=np.float32)
    # ReLU activations: the zeros that bins[0] = bins[1] is there for.
    relu = np.maximum(rng.standard_normal(n), 0).astype(np.float32)
    # Few values in 2048 bins: empty bins, so infinite divergences where q is 0 under p.
    sparse = rng.uniform(-3, 3, 300).astype(np.float32)
    # Zeros and one large value: no count below most candidates (NaN divergences), and all
    # zeros (numpy widens the zero-width range to [-0.5, 0.5]).
    zeros_and_max = np.zeros(1000, dtype=np.float32)
    zeros_and_max[123] = -5.0
    zeros = np.zeros(50, dtype=np.float32)
    # A float64 range in the subnormals (saved as float64): a subnormal step, where numpy's
    # estimate can be off by more than its correction mends.
    subnormal = rng.uniform(-1, 1, 3000) * 2.5e-320
    subnormal[17] = 2.5e-320
    return {
        "normal": normal,
        "laplace": laplace,
        "outliers": outliers,
        "relu": relu,
        "sparse": sparse,
        "zeros_and_max": zeros_and_max,
        "zeros": zeros,
        "subnormal": subnormal,
    }


CASES = [
    ("normal", 8, False),
    ("normal", 4, False),
    ("laplace", 8, False),
    ("laplace", 4, False),
    ("outliers", 8, False),
    ("outliers", 4, False),
    ("relu", 8, True),
    ("relu", 4, True),
    ("outliers", 8, True),
    ("normal", 2, False),
    ("normal", 12, False),
    ("sparse", 8, False),
    ("zeros_and_max", 8, False),
    ("zeros", 4, False),
    ("subnormal", 8, False),
]

# Maxima for which numpy refuses the histogram ("Too many bins for data range"): its 2049 edges
# are not strictly increasing.
REFUSED = [5e-321, 1e-321, 5e-324]


def main():
    out_dir = os.path.join("tests", "fixtures", "kl")
    os.makedirs(out_dir, exist_ok=True)
    data = data_sets()
    hists = {}
    for name, x in data.items():
        np.save(os.path.join(out_dir, name + ".npy"), x)
        hist, edges = abs_histogram(x.astype(np.float64))
        hists[name] = (hist, edges)
    cases = []
    for name, bits, unsigned in CASES:
        hist, edges = hists[name]
        divs, best, edge, amax = entropy_amax(hist, edges, bits, unsigned)
        cases.append(
            {
                "data": name,
                "bits": bits,
                "unsigned": unsigned,
                "best": int(best),
                "edge": edge,
                "amax": amax,
                "divergences": [num(d) for d in divs],
            }
        )
        print(f"{name:14s} {bits:2d} bits unsigned={unsigned!s:5s} bin {best:4d} amax {amax!r}",
              file=sys.stderr)
    histograms = {
        name: {
            "counts": [int(c) for c in h],
            "first_edge": float(e[0]),
            "width": float(e[1] - e[0]),
            # Every edge for two data sets (the others' chosen edge is in their cases).
            "edges": [float(v) for v in e] if name in ("outliers", "zeros") else None,
        }
        for name, (h, e) in hists.items()
    }
    # scipy's rel_entr on each of its branches: x / y near 1 (log1p), moderate (log of the
    # ratio), subnormal or overflowing (difference of logs), zeros.
    from scipy.special import rel_entr
    rng = np.random.default_rng(7)
    xs = rng.random(400)
    ys = xs * np.exp(rng.standard_normal(400) * np.repeat([0.05, 0.3, 2.0, 8.0], 100))
    extra = [(1e-300, 1e10), (1.0, 1e-310), (1e-320, 0.5), (0.0, 0.3), (0.0, 0.0), (0.2, 0.0)]
    xs = np.concatenate([xs, [a for a, _ in extra]])
    ys = np.concatenate([ys, [b for _, b in extra]])
    rel = [[float(a), float(b), num(r)] for a, b, r in zip(xs, ys, rel_entr(xs, ys))]
    for m in REFUSED:
        try:
            abs_histogram(np.array([m, m / 3]))
        except ValueError:
            continue
        raise SystemExit(f"numpy made a histogram up to {m!r}")
    with open(os.path.join(out_dir, "expected.json"), "w") as f:
        json.dump(
            {
                "numpy": np.__version__,
                "scipy": __import__("scipy").__version__,
                "histograms": histograms,
                "cases": cases,
                "rel_entr": rel,
                "refused_maxima": REFUSED,
            },
            f,
            separators=(",", ":"),
        )
        f.write("\n")


if __name__ == "__main__":
    main()
