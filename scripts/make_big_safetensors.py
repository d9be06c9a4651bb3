#!/usr/bin/env python3
"""Writes a large safetensors file of F16 tensors with Llama-style shapes, for timing model files
at scale. The file goes where the command line says, never into the repository.

- Default (`quantviz report` at scale): a small model (hidden 2048, MLP 5632, grouped-query
  attention with 256-wide keys and values, a 32000-token embedding), 10 layers, about 1 GB, every
  tensor seeded.
- `--sparse` (the page's model-file steps: listing the tensors, loading one 4096 x 11008 tensor,
  a format change on it): Llama-7B shapes (hidden 4096, MLP 11008, an output head), 12 layers,
  about 5 GB. Only `model.layers.0.mlp.down_proj.weight` (4096 x 11008) holds values (seeded
  normal, std 0.02); every other tensor is a hole in a sparse file, which reads as zeros, so the
  file takes about 90 MB of disk whatever its length.

The format is written by hand: an 8-byte little-endian header length, the JSON header, then
each tensor's bytes in header order, each starting where the one before ends.

Usage: python3 scripts/make_big_safetensors.py OUT.safetensors [--sparse] [--layers L] [--seed 0]
"""
import argparse
import json
import struct

import numpy as np

SMALL = dict(hidden=2048, mlp=5632, kv=256, vocab=32000, head=False, layers=10)
LLAMA_7B = dict(hidden=4096, mlp=11008, kv=4096, vocab=32000, head=True, layers=12)
FILLED = "model.layers.0.mlp.down_proj.weight"


def shapes(m, layers):
    h, mlp, kv, vocab = m["hidden"], m["mlp"], m["kv"], m["vocab"]
    yield "model.embed_tokens.weight", (vocab, h)
    for i in range(layers):
        p = f"model.layers.{i}."
        yield p + "input_layernorm.weight", (h,)
        yield p + "self_attn.q_proj.weight", (h, h)
        yield p + "self_attn.k_proj.weight", (kv, h)
        yield p + "self_attn.v_proj.weight", (kv, h)
        yield p + "self_attn.o_proj.weight", (h, h)
        yield p + "post_attention_layernorm.weight", (h,)
        yield p + "mlp.gate_proj.weight", (mlp, h)
        yield p + "mlp.up_proj.weight", (mlp, h)
        yield p + "mlp.down_proj.weight", (h, mlp)
    yield "model.norm.weight", (h,)
    if m["head"]:
        yield "lm_head.weight", (vocab, h)


def seeded(rng, shape):
    """Norm weights near 1; matrices of std 1/sqrt(fan_in) with heavier tails than a normal
    (Student-t, 5 degrees of freedom), as trained weights have."""
    if len(shape) == 1:
        return 1.0 + 0.05 * rng.standard_normal(shape, dtype=np.float32)
    x = rng.standard_t(5, size=shape).astype(np.float32)
    return x * np.float32(0.77 / np.sqrt(shape[1]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--sparse", action="store_true")
    ap.add_argument("--layers", type=int)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    m = LLAMA_7B if a.sparse else SMALL
    tensors = list(shapes(m, a.layers if a.layers is not None else m["layers"]))
    header, at, offsets = {}, 0, {}
    for name, shape in tensors:
        n = int(np.prod(shape)) * 2
        header[name] = {"dtype": "F16", "shape": list(shape), "data_offsets": [at, at + n]}
        offsets[name] = at
        at += n
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    rng = np.random.default_rng(a.seed)
    start = 8 + len(h)
    with open(a.out, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        if a.sparse:
            shape = dict(tensors)[FILLED]
            f.seek(start + offsets[FILLED])
            x = rng.standard_normal(shape, dtype=np.float32) * 0.02
            f.write(x.astype("<f2").tobytes())
            f.truncate(start + at)
        else:
            for _, shape in tensors:
                f.write(seeded(rng, shape).astype("<f2").tobytes())
    print(f"{a.out}: {len(tensors)} tensors, {at // 2} parameters, {start + at} bytes")


if __name__ == "__main__":
    main()
