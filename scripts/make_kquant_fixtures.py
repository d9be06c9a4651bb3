#!/usr/bin/env python3
"""Writes the K-quant fixtures of tests/kquants.rs: ggml's own block bytes and dequantized values
for Q2_K, Q3_K, Q4_K, Q5_K and Q6_K on a set of data sets.

    python3 -m pip install numpy
    python3 scripts/make_kquant_fixtures.py --lib /path/to/libggmlref.so [--ggml-commit HASH]

No code of ggml is in this repository: the script loads a shared library built elsewhere from
ggml's sources (repository ggml-org/ggml, file src/ggml-quants.c, or ggml/src/ggml-quants.c in
ggml-org/llama.cpp) around a small C harness of your own. How to build it:

1. Get ggml's sources (a checkout of ggml-org/ggml); note the commit, to pass as --ggml-commit.
2. Write a harness C file, outside this repository, that `#include`s "ggml-quants.c" (so that
   its static helpers can be called) and exports these functions (t is 2, 3, 4, 5 or 6 for
   Q2_K ... Q6_K; x holds 256*nb float32 values; y the packed blocks):
   - `int kq_block_bytes(int t)`: `sizeof(block_qN_K)` (84, 110, 144, 176, 210);
   - `int kq_quantize(int t, const float *x, uint8_t *y, int64_t nb, int32_t *asserts)`: calls
     `quantize_row_qN_K_ref(x + 256*i, y + i*size, 256)` for each super-block i and stores in
     `asserts[i]` how many of ggml's `assert`s failed during that call (see step 3);
   - `int kq_dequantize(int t, const uint8_t *y, float *x, int64_t nb)`: calls
     `dequantize_row_qN_K(y, x, 256*nb)`;
   - `int kq_subscales(int t, const float *x, float *scales, float *mins)`: one super-block's
     sub-block scales (and mins), calling `make_qkx2_quants`, `make_q3_quants` or
     `make_qx_quants` with exactly the arguments `quantize_row_qN_K_ref` passes (for Q4_K and
     Q5_K with the same `av_x + |x|` weights); returns the number of sub-blocks (16 or 8).
   Also stub the few ggml.c functions the file references (`ggml_abort`, `ggml_row_size`,
   `ggml_type_size`, `ggml_type_name`) so that the library links on its own.
3. Make failed asserts countable rather than fatal: put a file `assert.h` in a directory of its
   own (say `fakeinc/`) that declares `void kq_assert_failed(const char *, const char *, int);`
   and defines `assert(e)` as `((e) ? (void)0 : kq_assert_failed(#e, __FILE__, __LINE__))`;
   the harness defines `kq_assert_failed` to count. ggml's `nearest_int` asserts that its
   argument is at most 4194303 in magnitude; quantviz turns such a block into an error.
4. Compile with float32 semantics and no fused multiply-add, e.g. with gcc on x86-64:
   `gcc -O2 -ffp-contract=off -fPIC -Ifakeinc -I<ggml>/include -I<ggml>/src
   -I<ggml>/src/ggml-cpu -c harness.c`, the stubs likewise, and
   `gcc -shared -o libggmlref.so harness.o stubs.o -lm`.

What is written to tests/fixtures/kquants/ (all little-endian):
- `<case>.f32`: the input values, float32 (data sets made by numpy's seeded generator);
- `<case>.<format>.bin`: the packed blocks ggml wrote (for a case where some super-block
  breaks, only the blocks before the first one that does);
- `expected.json`:

    {"ggml": {"repository", "file", "commit"}, "numpy": "2.x", "hash": "fnv1a64",
     "cases": [{"name", "n", "input" (file name, or null for a generated case),
                "generator" (null, or {"kind": "splitmix", "seed", "n"}: see below),
                "formats": {"q4_K": {"blocks" (file name or null), "blocks_hash",
                                     "blocks_head" (hex of the first 64 bytes),
                                     "deq_hash", "deq_head" (first 16 values),
                                     "error_block" (null, or the first super-block that breaks),
                                     "error_kind" (null, "assert", "fp16" or "nan_scale")}}}]}

`blocks_hash` is FNV-1a 64 over the bytes, `deq_hash` over the dequantized float32 values'
bytes (both over the blocks before `error_block` where there is one). A super-block "breaks"
where ggml's `nearest_int` asserted while quantizing it ("assert"), where it stored an fp16
`d` or `dmin` that is infinite or NaN ("fp16"), or where a sub-block scale or min came out of
the search not finite ("nan_scale": ggml then writes a zero block without asserting).

The generated case is too large to store: its values come from SplitMix64, each value from
one 64-bit draw `u` (draw `i` is `splitmix64(seed + i)`), computed in float32 exactly as
tests/kquants.rs does: `a = float(u >> 40) * 2^-24`, `b = float((u >> 16) & 0xFFFFFF) * 2^-24`,
`v = (a - 0.5) + (b - 0.5)`, then `v * 2^e` with `e = (draw(seed ^ 0xABCDEF, block) % 40) - 30`
per super-block, and `v = 0` where `u & 31 == 0`.
"""

import argparse
import ctypes
import json
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "tests", "fixtures", "kquants")
FORMATS = {2: "q2_K", 3: "q3_K", 4: "q4_K", 5: "q5_K", 6: "q6_K"}
QK_K = 256
HEAD_BYTES = 64
HEAD_VALUES = 16
MASK64 = (1 << 64) - 1


def fnv1a64(data: bytes) -> str:
    h = 0xCBF29CE484222325
    for b in data:
        h ^= b
        h = (h * 0x100000001B3) & MASK64
    return f"{h:016x}"


class Ggml:
    def __init__(self, path):
        self.lib = ctypes.CDLL(path)
        self.size = {t: self.lib.kq_block_bytes(t) for t in FORMATS}

    def quantize(self, t, x):
        x = np.ascontiguousarray(x, dtype=np.float32)
        nb = x.size // QK_K
        y = np.zeros(nb * self.size[t], np.uint8)
        asserts = np.zeros(nb, np.int32)
        rc = self.lib.kq_quantize(
            t,
            x.ctypes.data_as(ctypes.c_void_p),
            y.ctypes.data_as(ctypes.c_void_p),
            ctypes.c_int64(nb),
            asserts.ctypes.data_as(ctypes.c_void_p),
        )
        assert rc == 0
        return y, asserts

    def dequantize(self, t, y):
        nb = y.size // self.size[t]
        out = np.zeros(nb * QK_K, np.float32)
        rc = self.lib.kq_dequantize(
            t, y.ctypes.data_as(ctypes.c_void_p), out.ctypes.data_as(ctypes.c_void_p), ctypes.c_int64(nb)
        )
        assert rc == 0
        return out

    def subscales(self, t, block):
        block = np.ascontiguousarray(block, dtype=np.float32)
        scales = np.zeros(16, np.float32)
        mins = np.zeros(16, np.float32)
        k = self.lib.kq_subscales(
            t,
            block.ctypes.data_as(ctypes.c_void_p),
            scales.ctypes.data_as(ctypes.c_void_p),
            mins.ctypes.data_as(ctypes.c_void_p),
        )
        return scales[:k], mins[:k]


def super_scales(t, blocks):
    """The fp16 d and dmin of each packed block, as float32."""
    off = {2: (80, 82), 3: (108, None), 4: (0, 2), 5: (0, 2), 6: (208, None)}[t]
    def read(o):
        return blocks[:, o:o + 2].copy().view(np.float16).astype(np.float32).ravel()
    d = read(off[0])
    dmin = read(off[1]) if off[1] is not None else np.zeros_like(d)
    return d, dmin


def first_break(ggml, t, x, y, asserts):
    """The first super-block that breaks, and how (see the module doc)."""
    nb = x.size // QK_K
    d, dmin = super_scales(t, y.reshape(nb, -1))
    for i in range(nb):
        # The same order of checks as quantviz's: a non-finite stored scale first.
        if not (np.isfinite(d[i]) and np.isfinite(dmin[i])):
            return i, "fp16"
        if asserts[i] > 0:
            return i, "assert"
        s, m = ggml.subscales(t, x[QK_K * i:QK_K * (i + 1)])
        if not (np.isfinite(s).all() and np.isfinite(m).all()):
            return i, "nan_scale"
    return None, None


# ---- Data sets --------------------------------------------------------------------------------

def splitmix64(z: np.ndarray) -> np.ndarray:
    z = z.astype(np.uint64)
    with np.errstate(over="ignore"):
        z = z + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def generated(seed: int, n: int) -> np.ndarray:
    """The generated case (see the module doc); tests/kquants.rs computes the same values."""
    with np.errstate(over="ignore"):
        i = np.uint64(seed) + np.arange(n, dtype=np.uint64)
    u = splitmix64(i)
    two24 = np.float32(2.0 ** -24)
    a = (u >> np.uint64(40)).astype(np.float32) * two24
    b = ((u >> np.uint64(16)) & np.uint64(0xFFFFFF)).astype(np.float32) * two24
    v = (a - np.float32(0.5)) + (b - np.float32(0.5))
    nb = n // QK_K
    with np.errstate(over="ignore"):
        blk = np.uint64(seed ^ 0xABCDEF) + np.arange(nb, dtype=np.uint64)
    e = (splitmix64(blk) % np.uint64(40)).astype(np.int64) - 30
    scale = np.ldexp(np.float32(1.0), e).astype(np.float32)
    v = v * np.repeat(scale, QK_K)
    v[(u & np.uint64(31)) == 0] = np.float32(0.0)
    return v.astype(np.float32)


def datasets(rng):
    f = np.float32
    sets = {}
    sets["normal"] = rng.standard_normal(4096).astype(f)
    sets["laplace"] = rng.laplace(0.0, 0.02, 4096).astype(f)
    sets["uniform"] = rng.uniform(-1.0, 1.0, 2048).astype(f)

    # A weight-like normal with a few large outliers in most super-blocks.
    x = (rng.standard_normal(4096) * 0.05).astype(f)
    idx = rng.choice(4096, 40, replace=False)
    x[idx] = (rng.choice([-1.0, 1.0], 40) * rng.uniform(0.5, 3.0, 40)).astype(f)
    sets["outliers"] = x

    # All-zero super-blocks and sub-blocks, constant sub-blocks of either sign, lone values,
    # sub-blocks far smaller than their neighbours.
    x = rng.standard_normal(2048).astype(f)
    x[0:256] = 0.0
    x[256:512] = -0.0
    x[512 + 0:512 + 32] = 0.0
    x[512 + 32:512 + 64] = 1.5
    x[512 + 64:512 + 96] = -2.25
    x[512 + 96:512 + 112] = 0.0
    x[512 + 112:512 + 128] = -0.75
    x[768:1024] = 0.0
    x[768 + 17] = 3.0
    x[768 + 200] = -1e-3
    x[1024:1024 + 64] *= f(1e-20)
    x[1024 + 128:1024 + 144] *= f(1e-9)
    x[1280:1536] = f(0.125)
    x[1536:1792] = f(-7.0)
    x[1792 + 16:1792 + 32] = 0.0
    sets["zeros"] = x

    # All positive, all negative (the mins' paths).
    x = np.concatenate([
        np.abs(rng.standard_normal(1024)) + 0.1,
        -np.abs(rng.standard_normal(1024)) - 0.1,
    ]).astype(f)
    sets["signs"] = x

    # Ties: half-integers on ranges where the searches' first inverse scale is exactly 1, so
    # that iscale * x lands halfway between integers (Q2_K: [0, 3], Q3_K: max -4, Q4_K:
    # [0, 15], Q5_K: [0, 31], Q6_K: max -32), and quarter-integers besides.
    blocks = []
    for r in range(8):
        b = np.empty(256, f)
        for j in range(16):
            kind = (r * 16 + j) % 6
            if kind == 0:
                v = rng.integers(0, 7, 16) * 0.5
                v[0], v[1] = 0.0, 3.0
            elif kind == 1:
                v = rng.integers(-8, 8, 16) * 0.5
                v[0] = -4.0
            elif kind == 2:
                v = rng.integers(0, 31, 16) * 0.5
                v[0], v[1] = 0.0, 15.0
            elif kind == 3:
                v = rng.integers(0, 63, 16) * 0.5
                v[0], v[1] = 0.0, 31.0
            elif kind == 4:
                v = rng.integers(-64, 64, 16) * 0.5
                v[0] = -32.0
            else:
                v = rng.integers(-40, 40, 16) * 0.25
            b[16 * j:16 * j + 16] = v
        blocks.append(b)
    sets["ties"] = np.concatenate(blocks).astype(f)

    # Tiny magnitudes: 1e-30 (every fp16 super-scale underflows to 0), and 1e-5 ... 1e-8
    # (fp16 subnormal super-scales).
    sets["tiny"] = (rng.standard_normal(1024) * 1e-30).astype(f)
    x = rng.standard_normal(2048).astype(f)
    for i, s in enumerate([1e-5, 3e-6, 1e-6, 3e-7, 1e-7, 3e-8, 1e-8, 1e-9]):
        x[256 * i:256 * (i + 1)] *= f(s)
    sets["subnormal_scales"] = x

    # Large magnitudes that every format's fp16 super-scales still hold.
    x = rng.standard_normal(1536).astype(f)
    for i, s in enumerate([100.0, 1e3, 3e3, 1e4, 2e4, 3e4]):
        x[256 * i:256 * (i + 1)] *= f(s)
    sets["large"] = x

    # Every super-block its own magnitude.
    x = rng.standard_normal(4096).astype(f)
    for i in range(16):
        x[256 * i:256 * (i + 1)] *= f(10.0 ** rng.uniform(-12, 4))
    sets["magnitudes"] = x

    # Where ggml's arithmetic breaks (each an error naming the super-block).
    x = rng.standard_normal(1024).astype(f)
    x[768:] *= f(1e-42)  # float32 subnormals: Q2_K/Q4_K/Q5_K's inverse scale overflows
    sets["err_subnormal"] = x
    x = rng.standard_normal(1024).astype(f)
    x[512:768] *= f(1e9)  # fp16 super-scales overflow
    sets["err_huge"] = x
    x = rng.standard_normal(768).astype(f)
    x[256:512] *= f(1e21)  # float32 overflows in the searches' sums
    sets["err_overflow"] = x
    x = rng.standard_normal(768).astype(f)
    x[256:512] *= f(1e6)  # Q2_K's fp16 super-scale overflows first
    sets["err_q2_k"] = x
    return sets


def record(ggml, t, name, x, store_blocks):
    y, asserts = ggml.quantize(t, x)
    nb = x.size // QK_K
    err, kind = first_break(ggml, t, x, y, asserts)
    keep = nb if err is None else err
    y = y[:keep * ggml.size[t]]
    deq = ggml.dequantize(t, y)
    entry = {
        "blocks": None,
        "blocks_hash": fnv1a64(y.tobytes()),
        "blocks_head": y[:HEAD_BYTES].tobytes().hex(),
        "deq_hash": fnv1a64(deq.astype("<f4").tobytes()),
        "deq_head": [repr(float(v)) for v in deq[:HEAD_VALUES]],
        "error_block": err,
        "error_kind": kind,
    }
    if store_blocks:
        fname = f"{name}.{FORMATS[t]}.bin"
        with open(os.path.join(OUT, fname), "wb") as fh:
            fh.write(y.tobytes())
        entry["blocks"] = fname
    return entry


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lib", required=True, help="the shared library built as the docstring says")
    ap.add_argument("--ggml-commit", default="unknown", help="the ggml commit it was built from")
    args = ap.parse_args()
    ggml = Ggml(args.lib)
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(20240531)
    cases = []
    for name, x in datasets(rng).items():
        assert x.dtype == np.float32 and x.size % QK_K == 0 and np.isfinite(x).all()
        fname = f"{name}.f32"
        with open(os.path.join(OUT, fname), "wb") as fh:
            fh.write(x.astype("<f4").tobytes())
        formats = {FORMATS[t]: record(ggml, t, name, x, True) for t in FORMATS}
        cases.append({"name": name, "n": int(x.size), "input": fname, "generator": None,
                      "formats": formats})
        print(name, {k: v["error_block"] for k, v in formats.items()})
    for seed, n in [(7, 1 << 18)]:
        x = generated(seed, n)
        formats = {FORMATS[t]: record(ggml, t, "generated", x, False) for t in FORMATS}
        cases.append({"name": f"generated_{seed}", "n": n, "input": None,
                      "generator": {"kind": "splitmix", "seed": seed, "n": n}, "formats": formats})
        print("generated", seed, {k: v["error_block"] for k, v in formats.items()})
    doc = {
        "ggml": {"repository": "ggml-org/ggml", "file": "src/ggml-quants.c",
                 "commit": args.ggml_commit},
        "numpy": np.__version__,
        "hash": "fnv1a64",
        "cases": cases,
    }
    with open(os.path.join(OUT, "expected.json"), "w") as fh:
        json.dump(doc, fh, indent=1)
        fh.write("\n")


if __name__ == "__main__":
    main()
