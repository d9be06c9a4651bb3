#!/usr/bin/env python3
"""Writes a large safetensors file of F16 tensors with the shapes of a Llama-7B-style model
(hidden 4096, MLP 11008, a 32000-token embedding; 12 layers make about 5 GB) for timing the
page's model-file steps: listing its tensors, loading one 4096 x 11008 tensor, and a format
change on it. Only `model.layers.0.mlp.down_proj.weight` (4096 x 11008) holds values (seeded
normal, std 0.02, as F16); every other tensor is left as a hole in a sparse file, which reads as
zeros, so the file takes about 90 MB of disk whatever its length. The file goes where the
command line says, never into the repository.

The format is written by hand: an 8-byte little-endian header length, the JSON header, then
each tensor's bytes in header order, each starting where the one before ends.

Usage: python3 scripts/make_page_model.py OUT.safetensors [--layers 12] [--seed 0]
"""
import argparse
import json
import struct

import numpy as np

HIDDEN, MLP, VOCAB = 4096, 11008, 32000
FILLED = "model.layers.0.mlp.down_proj.weight"


def shapes(layers):
    yield "model.embed_tokens.weight", (VOCAB, HIDDEN)
    for i in range(layers):
        p = f"model.layers.{i}."
        yield p + "input_layernorm.weight", (HIDDEN,)
        yield p + "self_attn.q_proj.weight", (HIDDEN, HIDDEN)
        yield p + "self_attn.k_proj.weight", (HIDDEN, HIDDEN)
        yield p + "self_attn.v_proj.weight", (HIDDEN, HIDDEN)
        yield p + "self_attn.o_proj.weight", (HIDDEN, HIDDEN)
        yield p + "post_attention_layernorm.weight", (HIDDEN,)
        yield p + "mlp.gate_proj.weight", (MLP, HIDDEN)
        yield p + "mlp.up_proj.weight", (MLP, HIDDEN)
        yield p + "mlp.down_proj.weight", (HIDDEN, MLP)
    yield "model.norm.weight", (HIDDEN,)
    yield "lm_head.weight", (VOCAB, HIDDEN)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--layers", type=int, default=12)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    header, at, filled = {}, 0, None
    for name, shape in shapes(args.layers):
        n = 2 * int(np.prod(shape))
        header[name] = {"dtype": "F16", "shape": list(shape), "data_offsets": [at, at + n]}
        if name == FILLED:
            filled = (at, shape)
        at += n
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    rng = np.random.default_rng(args.seed)
    with open(args.out, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        start = 8 + len(text)
        f.seek(start + filled[0])
        f.write((rng.standard_normal(filled[1], dtype=np.float32) * 0.02).astype("<f2").tobytes())
        f.truncate(start + at)
    print(f"{args.out}: {start + at} bytes, {len(header)} tensors, {FILLED} {filled[1]} filled")


if __name__ == "__main__":
    main()
