#!/usr/bin/env python3
"""Writes the small model files the CLI tests and the page's preset use, into
tests/fixtures/models/ (a few KB each, seeded, so the same bytes every run):

- tiny.safetensors: F32, F16, BF16 and F64 tensors of the shapes a transformer layer has
  (scaled down), and an I32 tensor that quantviz lists and refuses. The format is written by
  hand (an 8-byte header length, the JSON header, the data), as the specification gives it.
- tiny.gguf: F32 and F16 tensors and a Q8_0 one, written by llama.cpp's own `gguf` package.

Usage: python3 scripts/make_test_models.py [OUT_DIR]
"""
import json
import struct
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def bf16_bytes(x):
    """float32 to bfloat16 bytes, rounding to nearest even (as torch's cast)."""
    b = np.asarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    b = (b + 0x7FFF + ((b >> 16) & 1)) >> 16
    return b.astype(np.uint16).tobytes()


def write_safetensors(path, tensors):
    """tensors: list of (name, dtype name, shape, raw bytes), written in order."""
    header, data, at = {}, b"", 0
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [at, at + len(raw)]}
        data += raw
        at += len(raw)
    header["__metadata__"] = {"format": "pt"}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    path.write_bytes(struct.pack("<Q", len(h)) + h + data)


def main():
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "tests" / "fixtures" / "models"
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(19)
    q = (rng.standard_normal((16, 64)) * 0.02).astype(np.float32)
    k = (rng.standard_normal((8, 64)) * 0.05).astype(np.float16)
    up = (rng.standard_t(5, (4, 64)) * 0.03).astype(np.float32)
    norm = (1.0 + rng.standard_normal(64) * 0.1).astype(np.float64)
    ids = np.arange(4, dtype=np.int32)
    write_safetensors(
        out / "tiny.safetensors",
        [
            ("layers.0.attn.q.weight", "F32", q.shape, q.tobytes()),
            ("layers.0.attn.k.weight", "F16", k.shape, k.tobytes()),
            ("layers.0.mlp.up.weight", "BF16", up.shape, bf16_bytes(up)),
            ("layers.0.norm.weight", "F64", norm.shape, norm.tobytes()),
            ("position_ids", "I32", ids.shape, ids.tobytes()),
        ],
    )

    import gguf

    w = gguf.GGUFWriter(str(out / "tiny.gguf"), "llama")
    w.add_name("tiny")
    w.add_tensor("blk.0.attn_q.weight", q)
    w.add_tensor("blk.0.attn_k.weight", k)
    q8 = gguf.quants.quantize(up, gguf.GGMLQuantizationType.Q8_0)
    w.add_tensor("blk.0.ffn_up.weight", q8, raw_shape=q8.shape, raw_dtype=gguf.GGMLQuantizationType.Q8_0)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    for p in sorted(out.iterdir()):
        print(p, p.stat().st_size, "bytes")


if __name__ == "__main__":
    main()
