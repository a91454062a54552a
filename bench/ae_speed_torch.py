#!/usr/bin/env python3
"""PyTorch counterpart of bench_ae_speed: training samples/s of the 784-1000-500-250-30
auto-encoder (mirrored decoder, logistic output + cross-entropy on logits, Adam 1e-3, batch 128)
on the first --rows Fashion-MNIST training images.

Run with Debian's python3-torch (scripts/install-deps.sh --bench), 2 threads, without the
environment's OpenBLAS overrides:
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 bench/ae_speed_torch.py \
      --threads 2 --rows 12800 --epochs 3 --hidden logistic
"""
import argparse
import gzip
import time

import numpy as np
import torch
from torch import nn


def read_images(path, n):
    with gzip.open(path, "rb") as f:
        f.read(16)
        buf = f.read(n * 784)
    return np.frombuffer(buf, dtype=np.uint8).reshape(n, 784).astype(np.float32) / 255.0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rows", type=int, default=12800)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--hidden", choices=["logistic", "relu"], default="logistic")
    p.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    x = torch.from_numpy(read_images(a.data + "/train-images-idx3-ubyte.gz", a.rows))
    act = nn.Sigmoid if a.hidden == "logistic" else nn.ReLU
    sizes = [784, 1000, 500, 250, 30, 250, 500, 1000, 784]
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i != 3 and i != len(sizes) - 2:  # linear code layer, logits out
            layers.append(act())
    model = nn.Sequential(*layers)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.BCEWithLogitsLoss(reduction="sum")
    batch = 128
    for epoch in range(a.epochs):
        perm = torch.randperm(a.rows)
        t0 = time.perf_counter()
        total = 0.0
        for s in range(0, a.rows, batch):
            xb = x[perm[s:s + batch]]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(xb), xb) / xb.shape[0]
            loss.backward()
            opt.step()
            total += loss.item() * xb.shape[0]
        dt = time.perf_counter() - t0
        print(f"torch epoch {epoch + 1}: {a.rows / dt:.0f} samples/s, loss {total / a.rows:.2f}")
    print(f"torch {torch.__version__} ({a.hidden} hidden, Adam, batch 128, {a.threads} threads)")


if __name__ == "__main__":
    main()
