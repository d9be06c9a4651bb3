#!/usr/bin/env python3
"""Writes a ~1 GB safetensors file of F16 tensors with the shapes of a small Llama-style model
(hidden 2048, MLP 5632, grouped-query attention with 256-wide keys and values, a 32000-token
embedding), seeded, for timing `quantviz report` at scale. The file goes where the command line
says, never into the repository.

The format is written by hand: an 8-byte little-endian header length, the JSON header, then
each tensor's bytes in header order, each starting where the one before ends.

Usage: python3 scripts/make_big_safetensors.py OUT.safetensors [--layers 10] [--seed 0]
"""
import argparse
import json
import struct

import numpy as np

HIDDEN, MLP, KV, VOCAB = 2048, 5632, 256, 32000


def shapes(layers):
    yield "model.embed_tokens.weight", (VOCAB, HIDDEN)
    for i in range(layers):
        p = f"model.layers.{i}."
        yield p + "input_layernorm.weight", (HIDDEN,)
        yield p + "self_attn.q_proj.weight", (HIDDEN, HIDDEN)
        yield p + "self_attn.k_proj.weight", (KV, HIDDEN)
        yield p + "self_attn.v_proj.weight", (KV, HIDDEN)
        yield p + "self_attn.o_proj.weight", (HIDDEN, HIDDEN)
        yield p + "post_attention_layernorm.weight", (HIDDEN,)
        yield p + "mlp.gate_proj.weight", (MLP, HIDDEN)
        yield p + "mlp.up_proj.weight", (MLP, HIDDEN)
        yield p + "mlp.down_proj.weight", (HIDDEN, MLP)
    yield "model.norm.weight", (HIDDEN,)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--layers", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    tensors = list(shapes(a.layers))
    header, at = {}, 0
    for name, shape in tensors:
        n = int(np.prod(shape)) * 2
        header[name] = {"dtype": "F16", "shape": list(shape), "data_offsets": [at, at + n]}
        at += n
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    rng = np.random.default_rng(a.seed)
    with open(a.out, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for name, shape in tensors:
            if len(shape) == 1:
                x = 1.0 + 0.05 * rng.standard_normal(shape, dtype=np.float32)
            else:
                # Weights of std 1/sqrt(fan_in), with heavier tails than a normal (Student-t, 5
                # degrees of freedom), as trained weights have.
                x = rng.standard_t(5, size=shape).astype(np.float32)
                x *= np.float32(0.77 / np.sqrt(shape[1]))
            f.write(x.astype("<f2").tobytes())
    print(f"{a.out}: {len(tensors)} tensors, {at // 2} parameters, {8 + len(h) + at} bytes")


if __name__ == "__main__":
    main()
