#!/usr/bin/env python3
"""Trains the small network of `quantviz model` and writes it with its test set:

    python3 -m pip download scikit-learn --no-deps -d /tmp/skl
    python3 scripts/train_digits.py /tmp/skl        # a download dir or the wheel's path

Needs numpy only. The data are the UCI optical recognition of handwritten digits (8x8 images,
pixel values 0..16, 1,797 images, CC BY 4.0), which scikit-learn ships inside its wheel as
`sklearn/datasets/data/digits.csv.gz`: each line 64 pixels then the label. The script opens the
wheel as a zip and reads that one member, so no network is used while training.

What it writes, next to the repository's `models/`:
- `models/digits-mlp.safetensors`: float32 `fc1.weight` [128, 64], `fc1.bias` [128],
  `fc2.weight` [10, 128], `fc2.bias` [10] (weights [out, in], as PyTorch's Linear), in layer
  order. The network is `logits = fc2(relu(fc1(pixels / 16)))`. 128 hidden units make both
  weight counts (8,192 and 1,280) whole numbers of the K-quants' super-blocks of 256, so every
  format quantizes both layers as they are.
- `models/digits-test.safetensors`: `images` float32 [360, 64] (raw 0..16 pixels) and `labels`
  uint8 [360], the test images in the order of the split below.

The split is fixed and stratified: each digit's images, in file order, are shuffled by a seeded
generator and the first k of them go to the test set, k by largest remainder of 360 * n_c / 1797
(36 per digit give or take one); 1,437 images remain for training.

Training is seeded and deterministic: He-initialised weights, full float64, AdamW (Adam with
decoupled weight decay on the weights) on the mean cross-entropy, mini-batches of 32 in a seeded order, a fixed number of
epochs (no early stopping on the test set). Rerunning gives byte-identical files on the same
machine and numpy (a different BLAS could round the float64 sums differently in the last bit).
With this recipe the seeds 0 to 3 give 348, 353, 353 and 353 of 360 test images right; the
files are seed 0's.

The safetensors files are written by hand (8-byte little-endian header length, a JSON header
padded with spaces to a multiple of 8, then the tensors' bytes in header order), so that numpy
is the only dependency. The script prints the float test accuracy, which tests/model.rs asserts.
"""

import gzip
import io
import json
import os
import struct
import sys
import zipfile

import numpy as np

SEED = 0
N_TEST = 360
HIDDEN = 128
EPOCHS = 100
BATCH = 32
LR = 1e-3
WEIGHT_DECAY = 1e-2
MEMBER = "sklearn/datasets/data/digits.csv.gz"


def find_wheel(arg):
    """The wheel itself, or the one scikit-learn wheel in a download directory."""
    if os.path.isdir(arg):
        wheels = sorted(
            f for f in os.listdir(arg) if f.startswith("scikit_learn") and f.endswith(".whl")
        )
        if not wheels:
            sys.exit(f"no scikit_learn-*.whl in {arg}: run pip download scikit-learn --no-deps -d {arg}")
        return os.path.join(arg, wheels[-1])
    return arg


def load_digits(wheel):
    with zipfile.ZipFile(wheel) as z:
        raw = gzip.decompress(z.read(MEMBER))
    data = np.loadtxt(io.StringIO(raw.decode("ascii")), delimiter=",", dtype=np.int64)
    assert data.shape == (1797, 65), data.shape
    return data[:, :64], data[:, 64]


def stratified_split(labels, rng):
    """Test indices per class by largest remainder, each class shuffled by `rng`."""
    n = len(labels)
    classes = np.arange(10)
    counts = np.array([(labels == c).sum() for c in classes])
    exact = N_TEST * counts / n
    k = np.floor(exact).astype(np.int64)
    # Largest remainders get the rest; ties broken by class order (stable sort).
    order = np.argsort(-(exact - k), kind="stable")
    k[order[: N_TEST - k.sum()]] += 1
    test, train = [], []
    for c in classes:
        idx = np.flatnonzero(labels == c)
        idx = idx[rng.permutation(len(idx))]
        test.extend(idx[: k[c]])
        train.extend(idx[k[c]:])
    return np.sort(np.array(test)), np.sort(np.array(train))


def forward(params, x):
    w1, b1, w2, b2 = params
    h = np.maximum(x @ w1.T + b1, 0.0)
    return h, h @ w2.T + b2


def train(x, y, rng):
    w1 = rng.standard_normal((HIDDEN, 64)) * np.sqrt(2.0 / 64)
    b1 = np.zeros(HIDDEN)
    w2 = rng.standard_normal((10, HIDDEN)) * np.sqrt(2.0 / HIDDEN)
    b2 = np.zeros(10)
    params = [w1, b1, w2, b2]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    b1_, b2_, eps = 0.9, 0.999, 1e-8
    t = 0
    onehot = np.eye(10)[y]
    for _ in range(EPOCHS):
        perm = rng.permutation(len(x))
        for s in range(0, len(x), BATCH):
            idx = perm[s : s + BATCH]
            xb, yb = x[idx], onehot[idx]
            h, logits = forward(params, xb)
            z = logits - logits.max(axis=1, keepdims=True)
            p = np.exp(z)
            p /= p.sum(axis=1, keepdims=True)
            d2 = (p - yb) / len(idx)
            gw2 = d2.T @ h
            gb2 = d2.sum(axis=0)
            dh = (d2 @ params[2]) * (h > 0)
            gw1 = dh.T @ xb
            gb1 = dh.sum(axis=0)
            t += 1
            for i, g in enumerate([gw1, gb1, gw2, gb2]):
                m[i] = b1_ * m[i] + (1 - b1_) * g
                v[i] = b2_ * v[i] + (1 - b2_) * g * g
                mh = m[i] / (1 - b1_**t)
                vh = v[i] / (1 - b2_**t)
                params[i] = params[i] - LR * mh / (np.sqrt(vh) + eps)
            # AdamW's decoupled decay, on the weights only. (An L2 term in the gradient instead
            # drives the weights of pixels that are 0 in every training image, which get no
            # other gradient, down into float32's subnormals, which ggml's K-quants cannot scale.)
            for i in (0, 2):
                params[i] = params[i] * (1 - LR * WEIGHT_DECAY)
    return params


def write_safetensors(path, tensors):
    """`tensors`: (name, numpy array) in the order their bytes are written."""
    dtypes = {np.dtype("<f4"): "F32", np.dtype("u1"): "U8"}
    header, blobs, offset = {}, [], 0
    for name, a in tensors:
        a = np.ascontiguousarray(a)
        b = a.tobytes()
        header[name] = {
            "dtype": dtypes[a.dtype],
            "shape": list(a.shape),
            "data_offsets": [offset, offset + len(b)],
        }
        blobs.append(b)
        offset += len(b)
    text = json.dumps(header, separators=(",", ":")).encode("ascii")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    pixels, labels = load_digits(find_wheel(sys.argv[1]))
    rng = np.random.default_rng(SEED)
    test, train_idx = stratified_split(labels, rng)
    assert len(test) == N_TEST and len(train_idx) == 1797 - N_TEST
    x = pixels[train_idx] / 16.0
    params = train(x, labels[train_idx], rng)
    w = [p.astype(np.float32) for p in params]

    # The accuracy as the Rust forward pass computes it: float32 throughout.
    xt = (pixels[test].astype(np.float32) / np.float32(16.0)).astype(np.float32)
    _, logits = forward(w, xt)
    correct = int((logits.argmax(axis=1) == labels[test]).sum())
    print(f"float32 test accuracy: {correct}/{N_TEST} = {correct / N_TEST:.4f}")
    _, tl = forward(w, x.astype(np.float32))
    print(f"train accuracy: {(tl.argmax(axis=1) == labels[train_idx]).mean():.4f}")

    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "models")
    os.makedirs(root, exist_ok=True)
    write_safetensors(
        os.path.join(root, "digits-mlp.safetensors"),
        [("fc1.weight", w[0]), ("fc1.bias", w[1]), ("fc2.weight", w[2]), ("fc2.bias", w[3])],
    )
    write_safetensors(
        os.path.join(root, "digits-test.safetensors"),
        [
            ("images", pixels[test].astype("<f4")),
            ("labels", labels[test].astype(np.uint8)),
        ],
    )


if __name__ == "__main__":
    main()
