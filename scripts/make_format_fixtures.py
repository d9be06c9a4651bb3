#!/usr/bin/env python3
"""Writes the fixtures of tests/formats.rs: data sets and what each format's reference makes of
them. Run from anywhere (it writes next to the repository's tests/):

    python3 -m pip install numpy ml_dtypes gguf
    python3 scripts/make_format_fixtures.py

Needs numpy, ml_dtypes (the FP8 casts) and gguf (llama.cpp's Python package, whose
`gguf.quants.quantize`/`dequantize` port ggml's `quantize_row_*_ref` and `dequantize_row_*` to
numpy bit for bit). The generator is seeded: running it again gives the same files for the same
package versions, which `expected.json` records.

The references:
- Q4_0, Q4_1, Q8_0, MXFP4: gguf's quantize and dequantize, the bytes unpacked into codes and
  scales here.
- NVFP4: gguf (0.19) dequantizes it but does not quantize it, so `nvfp4_quantize` below follows
  ggml's `quantize_row_nvfp4_ref` (UE4M3 scale from gguf's port of `ggml_fp32_to_ue4m3`, each
  value's E2M1 code by the first minimum of the float32 errors, as `best_index_mxfp4`), packs
  the bytes as ggml's `block_nvfp4` does, and gguf dequantizes them.
- NF4: `nf4` below follows bitsandbytes' torch backend (`quantize_4bit`,
  `_dequantize_4bit_impl`) in float32 numpy; numpy's argmin, like torch's, returns the first
  NaN of a row, so an all-zero block gets code 0 as torch gives it.
- FP8: torchao's tensorwise recipe (`amax_to_scale`, `to_fp8_saturated`, division by the
  scale), the casts by ml_dtypes after the clamp.

gguf's numpy and ggml's C differ in one place: the sign of a zero scale or minimum, when a
block's largest magnitude (Q4_0) or extreme (Q4_1) is a zero and a -0.0 comes first (numpy's
argmax/min keep it, C's strict comparisons from +0.0 or FLT_MAX do not). The data sets hold no
-0.0 (the script turns every -0.0 into +0.0), so that difference never arises here;
tests/formats.rs checks those cases against C's semantics by hand.

Output, in tests/fixtures/formats/: `<name>.npy` (float32) per data set, and `expected.json`:

    {"versions": {...}, "hash": "fnv1a64", "datasets": [{"name", "file", "n", "cases": [
        {"format", "block",
         "error": null | {"kind": "scale_overflow", "block": i},
         "codes_hash", "deq_hash", "codes_head", "deq_head", "scales", "saturated"}]}]}

`codes_hash` is FNV-1a 64 over every code as little-endian int32 bytes, `deq_hash` over every
dequantized value as little-endian float32 bytes (so a hash match is every value bit for bit);
the heads are the first HEAD of each, for a readable failure. `scales` has one entry per block:
the fp16 bits `d` (Q4_0, Q8_0), `[d, m]` (Q4_1), the E8M0 byte (MXFP4), the four UE4M3 bytes
(NVFP4), the float32 absmax (NF4), or the one float32 scale (FP8). Floats are written with
Python's repr of the float32 widened to float64, which reads back exactly. `saturated` counts
values at the format's largest magnitude: FP8 bytes of +-fmax, MXFP4/NVFP4 codes of +-6
(7 and 15), 0 elsewhere. Where the reference's fp16 scale overflows (Q4_0, Q4_1, Q8_0), the case
holds only `error`: the first block whose `d` (or, for Q4_1, `d` or `m`) is infinite in fp16.
"""

import importlib.metadata
import json
import os
import warnings

import gguf
import ml_dtypes
import numpy as np
from gguf import GGMLQuantizationType as T

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.normpath(os.path.join(HERE, "..", "tests", "fixtures", "formats"))
HEAD = 48
SEED = 7

F32 = np.float32

NF4_CODE = np.array([
    -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
    -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
    0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
    0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0], dtype=F32)

# ggml's kvalues_mxfp4: the E2M1 elements doubled, in code order.
KVALUES = np.array([0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12], dtype=np.int8)


def fnv1a64(data: bytes) -> str:
    h = 0xCBF29CE484222325
    for b in data:
        h ^= b
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def f(x) -> float:
    """A float32 as the float64 JSON writes (repr reads back exactly)."""
    return float(F32(x))


def next_up(x, k=1):
    return np.nextafter(F32(x), F32(np.inf)) if k == 1 else next_up(next_up(x), k - 1)


def next_down(x, k=1):
    return np.nextafter(F32(x), F32(-np.inf)) if k == 1 else next_down(next_down(x), k - 1)


# ---- The references ---------------------------------------------------------------------------

def ggml_case(x, qtype):
    """Q4_0, Q4_1, Q8_0, MXFP4 by gguf: (codes, dequantized, scales) or an overflow block."""
    block, type_size = gguf.constants.GGML_QUANT_SIZES[qtype]
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        raw = gguf.quants.quantize(x.reshape(1, -1), qtype).reshape(-1, type_size)
        deq = gguf.quants.dequantize(raw.reshape(1, -1), qtype).reshape(-1).astype(F32)
    if qtype == T.MXFP4:
        scales = [int(e) for e in raw[:, 0]]
        qs = raw[:, 1:]
    else:
        n_half = 2 if qtype != T.Q4_1 else 4
        halves = raw[:, :n_half].copy().view("<u2")
        # An fp16 of all exponent bits is infinite: the reference's output is unusable there.
        bad = np.nonzero(((halves & 0x7C00) == 0x7C00).any(axis=1))[0]
        if len(bad):
            return {"kind": "scale_overflow", "block": int(bad[0])}
        scales = [int(h[0]) if n_half == 2 else [int(h[0]), int(h[1])] for h in halves]
        qs = raw[:, n_half:]
    if qtype == T.Q8_0:
        codes = qs.view(np.int8).astype(np.int32).reshape(-1)
    else:
        # Byte j holds value j (low nibble) and value j + 16 (high nibble).
        codes = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.int32).reshape(-1)
    return codes, deq, scales


def nvfp4_quantize(x):
    """ggml's quantize_row_nvfp4_ref in numpy, packed as block_nvfp4 (4 scale bytes, 32 qs)."""
    sub = x.reshape(-1, 16)
    amax = np.max(np.abs(sub), axis=1)
    s = gguf.quants.NVFP4.fp32_to_ue4m3((amax / F32(6.0)).astype(F32)).astype(np.uint8)
    d = gguf.quants.NVFP4.ue4m3_to_fp32(s).astype(F32)
    # best_index_mxfp4: |kvalues[i]*d - v| over i = 0..15 in float32, first minimum.
    err = np.abs(KVALUES.astype(F32)[None, None, :] * d[:, None, None] - sub[:, :, None])
    idx = np.argmin(err, axis=2).astype(np.uint8)
    qs = (idx[:, :8] | (idx[:, 8:] << 4)).reshape(-1, 32)
    return np.concatenate([s.reshape(-1, 4), qs], axis=1)


def nvfp4_case(x):
    raw = nvfp4_quantize(x)
    deq = gguf.quants.dequantize(raw.reshape(1, -1), T.NVFP4).reshape(-1).astype(F32)
    qs = raw[:, 4:].reshape(-1, 8)
    codes = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.int32).reshape(-1)
    scales = [[int(b) for b in r] for r in raw[:, :4]]
    return codes, deq, scales


def nf4(x, block):
    """bitsandbytes' quantize_4bit and _dequantize_4bit_impl (torch backend) in numpy."""
    codes, deq, scales = [], [], []
    with np.errstate(all="ignore"):
        for start in range(0, len(x), block):
            b = x[start:start + block]
            absmax = np.max(np.abs(b)).astype(F32)
            scaled = np.clip(b * (F32(1.0) / absmax), F32(-1.0), F32(1.0))
            q = np.argmin(np.abs(scaled[:, None] - NF4_CODE[None, :]), axis=1)
            codes.append(q.astype(np.int32))
            deq.append((NF4_CODE[q] * absmax).astype(F32))
            scales.append(f(absmax))
    return np.concatenate(codes), np.concatenate(deq), scales


FP8 = {"fp8-e4m3": (ml_dtypes.float8_e4m3fn, 448.0), "fp8-e5m2": (ml_dtypes.float8_e5m2, 57344.0)}


def fp8(x, name):
    """torchao's tensorwise float8: float64 scale stored as float32, clamp, cast, divide."""
    dtype, fmax = FP8[name]
    amax = float(np.max(np.abs(x)))
    scale = F32(fmax / max(amax, 1e-12))
    y = np.clip(x * scale, F32(-fmax), F32(fmax)).astype(dtype)
    codes = y.view(np.uint8).astype(np.int32)
    deq = (y.astype(F32) / scale).astype(F32)
    saturated = int(np.sum(np.abs(y.astype(F32)) == F32(fmax)))
    return codes, deq, [f(scale)], saturated


def case(x, fmt, block):
    out = {"format": fmt, "block": block, "error": None}
    saturated = 0
    if fmt in ("q4_0", "q4_1", "q8_0", "mxfp4"):
        r = ggml_case(x, {"q4_0": T.Q4_0, "q4_1": T.Q4_1, "q8_0": T.Q8_0, "mxfp4": T.MXFP4}[fmt])
        if isinstance(r, dict):
            out["error"] = r
            return out
        codes, deq, scales = r
        if fmt == "mxfp4":
            saturated = int(np.sum((codes == 7) | (codes == 15)))
    elif fmt == "nvfp4":
        codes, deq, scales = nvfp4_case(x)
        saturated = int(np.sum((codes == 7) | (codes == 15)))
    elif fmt == "nf4":
        codes, deq, scales = nf4(x, block)
    else:
        codes, deq, scales, saturated = fp8(x, fmt)
    assert codes.dtype == np.int32 and deq.dtype == F32 and len(codes) == len(x) == len(deq)
    out.update({
        "codes_hash": fnv1a64(codes.astype("<i4").tobytes()),
        "deq_hash": fnv1a64(deq.astype("<f4").tobytes()),
        "codes_head": [int(c) for c in codes[:HEAD]],
        "deq_head": [f(v) for v in deq[:HEAD]],
        "scales": scales,
        "saturated": saturated,
    })
    return out


# ---- The data sets ----------------------------------------------------------------------------

def pad(values, multiple=64, fill=0.0):
    v = np.asarray(values, dtype=F32)
    extra = (-len(v)) % multiple
    return np.concatenate([v, np.full(extra, fill, dtype=F32)])


def blocks_of(groups, size):
    """Each group (a leading value and more) padded with zeros to `size` values."""
    out = []
    for g in groups:
        g = np.asarray(g, dtype=F32)
        assert len(g) <= size, (len(g), size)
        out.append(np.concatenate([g, np.zeros(size - len(g), F32)]))
    return np.concatenate(out)


def ties_ggml(rng):
    groups = []
    # Q8_0: max 127 gives d = 1 (id = 1) and max 63.5 gives d = 0.5 (id = 2): k + 0.5 is a tie
    # of roundf, rounded away from zero.
    halves = np.arange(-127, 127, 1, dtype=F32) + F32(0.5)
    for chunk in np.array_split(halves, 9):
        groups.append(np.concatenate([[127.0], chunk[:31]]))
    groups.append(np.concatenate([[63.5], halves[100:131] / 2]))
    # Q4_0: m = -8 first gives d = 1, id = 1: v + 8.5 is an integer at v = k - 0.5, and one
    # float below or above each.
    edges = np.arange(-7.5, 7.0, 1.0, dtype=F32)
    groups.append(np.concatenate([[-8.0], edges]))
    groups.append(np.concatenate([[-8.0], [next_down(e) for e in edges]]))
    groups.append(np.concatenate([[-8.0], [next_up(e) for e in edges]]))
    # Q4_1: min 0, max 15 give d = 1: (v - 0) + 0.5 is an integer at v = k + 0.5.
    q41 = np.arange(0.5, 15.0, 1.0, dtype=F32)
    groups.append(np.concatenate([[0.0, 15.0], q41, [next_down(v) for v in q41[:14]]]))
    blocks = blocks_of(groups, 32)
    return pad(np.concatenate([blocks, rng.standard_normal(64).astype(F32)]))


def ties_e2m1(rng):
    # Groups of 16 whose largest magnitude is 6: MXFP4's X = 2^(floor(log2 6) - 2) = 1 and
    # NVFP4's scale ue4m3(6/6) = 1, so the midpoints between E2M1 elements are exact ties.
    mids = np.array([0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5.0], dtype=F32)
    vals = np.concatenate([mids, -mids, [next_down(m) for m in mids], [next_up(m) for m in mids],
                           [-next_down(m) for m in mids], [-next_up(m) for m in mids],
                           [7.0, -7.5, 6.0, -6.0, 0.0, 0.5, 4.0, -4.0]])
    groups = []
    for i in range(0, len(vals), 15):
        groups.append(np.concatenate([[6.0], vals[i:i + 15]]))
    base = blocks_of(groups, 16)
    base = pad(base, 32)
    # The same ties at other powers of two: the scale follows, the products stay exact.
    out = [base]
    for k in (-20, -100, 40, 100):
        out.append(base * F32(2.0 ** k))
    return pad(np.concatenate(out))


def nf4_ties():
    """Values exactly between two NF4 codes in float32 (equal float32 errors), their
    neighbours, and the values' negatives, in blocks whose absmax is 1 (so s = v)."""
    vals = []
    for k in range(15):
        lo, hi = NF4_CODE[k], NF4_CODE[k + 1]
        mid = F32((float(lo) + float(hi)) / 2)
        cand = [mid]
        for j in range(1, 40):
            cand += [next_up(mid, j), next_down(mid, j)]
        for s in cand:
            if np.abs(s - lo) == np.abs(s - hi):
                vals.append(s)
        vals += [mid, next_up(mid), next_down(mid)]
    vals = np.array(vals, dtype=F32)
    vals = np.concatenate([vals, -vals])
    groups = [np.concatenate([[1.0], vals[i:i + 63]]) for i in range(0, len(vals), 63)]
    return blocks_of(groups, 64)


def fp8_ties(fmt):
    """Every positive value of the format, the midpoints between neighbours (exact in float32)
    and the floats next to them, both signs; the largest value first so the scale is 1."""
    dtype, fmax = FP8[fmt]
    allv = np.arange(256, dtype=np.uint8).view(dtype).astype(F32)
    pos = np.unique(allv[np.isfinite(allv) & (allv >= 0)])
    mids = (pos[:-1] + pos[1:]) / F32(2.0)
    # Nothing beyond fmax: the largest magnitude sets the scale, and it must stay 1.
    vals = np.concatenate([pos, mids, [next_up(m) for m in mids], [next_down(m) for m in mids]])
    vals = np.concatenate([[fmax], vals, -vals])
    assert np.max(np.abs(vals)) == fmax
    return pad(vals)


def near_pow2(rng):
    """MXFP4 blocks whose largest magnitude is a power of two or a few floats below one, where
    float32 log2f rounds up to the next integer (the E8M0 exponent is one higher)."""
    groups = []
    for k in (3, 8, 20, 100, 127, -2, -100, -120):
        for j in (0, 1, 2, 60, 88, 89, 90, 300):
            top = next_down(F32(2.0 ** k), j) if j else F32(2.0 ** k)
            rest = (rng.standard_normal(31) * float(top) / 4).astype(F32)
            groups.append(np.concatenate([[top], rest]))
    return pad(blocks_of(groups, 32))


def datasets(rng):
    ds = {}
    ds["normal_4096"] = rng.standard_normal(4096).astype(F32)
    ds["weights_4096"] = (rng.standard_normal(4096) * 0.02).astype(F32)
    ds["laplace_4096"] = rng.laplace(0.0, 0.05, 4096).astype(F32)
    ds["uniform_4096"] = rng.uniform(-3.0, 3.0, 4096).astype(F32)
    x = (rng.standard_normal(2048) * 0.02).astype(F32)
    for b in range(0, 64, 3):
        x[b * 32 + rng.integers(32)] = F32(rng.choice([-1, 1]) * rng.uniform(1.0, 5.0))
    ds["outlier_2048"] = x
    z = (rng.standard_normal(1024) * 0.1).astype(F32)
    z[0:64] = 0.0          # a whole NVFP4/NF4 block
    z[128:160] = 0.0       # an MXFP4/ggml block
    z[208:224] = 0.0       # an NVFP4 sub-block
    z[320:384:2] = 0.0     # zeros among values
    ds["zeros_1024"] = z
    ds["ties_ggml"] = ties_ggml(rng)
    ds["ties_e2m1"] = ties_e2m1(rng)
    ds["ties_nf4"] = nf4_ties()
    ds["ties_fp8_e4m3"] = fp8_ties("fp8-e4m3")
    ds["ties_fp8_e5m2"] = fp8_ties("fp8-e5m2")
    n = rng.standard_normal(512)
    # The float32 subnormal range (below 1.2e-38) and just above it: ggml's reciprocal
    # overflows, fp16 flushes, E8M0 wraps, NF4's 1/absmax overflows.
    ds["denormal_512"] = np.concatenate([
        n[:64] * 1e-39, n[64:128] * 1e-40, n[128:192] * 1e-44, n[192:256] * 2e-38,
        n[256:320] * 1e-37, n[320:384] * 3e-39, n[384:448] * 1e-45, n[448:] * 5e-36,
    ]).astype(F32)
    ds["tiny_512"] = np.concatenate([
        rng.standard_normal(192) * 1e-30, rng.standard_normal(128) * 1e-20,
        rng.standard_normal(128) * 1e-10, rng.standard_normal(64) * 1e-6,
    ]).astype(F32)
    # Normal blocks, then magnitudes up to float32's largest: ggml's fp16 scales overflow at the
    # first of those; MXFP4's scale reaches 2^126 and its products overflow; NVFP4 saturates.
    big = rng.standard_normal(384)
    ds["huge_512"] = np.concatenate([
        rng.standard_normal(128) * 0.5, big[:128] * 1e30, big[128:256] * 1e36,
        big[256:320] * 1e38, np.full(32, np.finfo(F32).max), -np.full(32, np.finfo(F32).max),
    ]).astype(F32)
    # fp16's edge: Q8_0's d = 65519 rounds to 65504 (kept), 65520 overflows (block 2).
    e = rng.standard_normal(128).astype(F32)
    e[32] = F32(65519.0 * 127.0)
    e[64] = F32(65520.0 * 127.0)
    ds["fp16_edge_128"] = e
    ds["near_pow2"] = near_pow2(rng)
    ds["nf4_partial_1000"] = rng.standard_normal(1000).astype(F32)
    for name, v in ds.items():
        v = np.asarray(v, dtype=F32)
        assert np.all(np.isfinite(v)), name
        v[v == 0] = 0.0  # no -0.0: see the module docstring
        ds[name] = v
    return ds


BLOCK_FORMATS = [("q4_0", 32), ("q4_1", 32), ("q8_0", 32), ("mxfp4", 32), ("nvfp4", 64)]
NF4_EXTRA = {"laplace_4096": [32, 128, 1024, 4096], "nf4_partial_1000": [32, 128, 4096],
             "ties_nf4": [32]}


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(SEED)
    out = {
        "versions": {"numpy": np.__version__, "ml_dtypes": ml_dtypes.__version__,
                     "gguf": importlib.metadata.version("gguf")},
        "hash": "fnv1a64",
        "datasets": [],
    }
    total = 0
    for name, x in datasets(rng).items():
        np.save(os.path.join(OUT, f"{name}.npy"), x)
        cases = []
        for fmt, block in BLOCK_FORMATS:
            if len(x) % block == 0:
                cases.append(case(x, fmt, block))
        for block in [64] + NF4_EXTRA.get(name, []):
            cases.append(case(x, "nf4", block))
        for fmt in FP8:
            cases.append(case(x, fmt, len(x)))
        total += len(cases)
        out["datasets"].append({"name": name, "file": f"{name}.npy", "n": len(x), "cases": cases})
    with open(os.path.join(OUT, "expected.json"), "w") as fh:
        json.dump(out, fh, indent=None, separators=(",", ":"))
        fh.write("\n")
    size = sum(os.path.getsize(os.path.join(OUT, p)) for p in os.listdir(OUT))
    print(f"{len(out['datasets'])} data sets, {total} cases, {size} bytes in {OUT}")


if __name__ == "__main__":
    main()
