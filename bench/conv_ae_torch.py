#!/usr/bin/env python3
"""PyTorch counterpart of the engine's convolutional auto-encoder (engine/model/conv_autoencoder.h),
for bench_conv_ae_speed: the same architecture, loss and optimiser, timed the same way.

  28x28x1 -> per stage: conv kxk "same" (stride 1) + act -> max pool p (floor)
  -> dense hidden layers (+ act) -> dense code (linear) -> dense layers back (+ act)
  -> per stage in reverse: unpool (repeat = nearest-neighbour upsampling, or switches =
  MaxUnpool2d with the pooling indices; rows/columns the pool dropped are zero) -> transposed
  conv kxk (+ act, the last one linear) -> logits; logistic cross-entropy summed per image,
  averaged over the batch; Adam, batch 128.

Prints one line per measurement, parsed by bench_conv_ae_speed:
  train_images_per_s <value>
  encode_batch1_images_per_s <value>
  encode_batch256_images_per_s <value>
  params <count>

Run with Debian's python3-torch (scripts/install-deps.sh --bench), without the environment's
OpenBLAS overrides:
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 bench/conv_ae_torch.py \
      --threads 1 --rows 2560 --filters 32,64 --code 30 --unpool repeat
"""
import argparse
import gzip
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def read_images(path, n):
    with gzip.open(path, "rb") as f:
        f.read(16)
        buf = f.read(n * 784)
    return np.frombuffer(buf, dtype=np.uint8).reshape(-1, 784).astype(np.float32) / 255.0


class ConvAE(nn.Module):
    def __init__(self, h, w, c, filters, dense, code, unpool, act):
        super().__init__()
        self.act = {"relu": F.relu, "tanh": torch.tanh, "logistic": torch.sigmoid}[act]
        self.unpool = unpool
        self.convs, self.deconvs, self.shapes = nn.ModuleList(), nn.ModuleList(), []
        for f in filters:
            self.convs.append(nn.Conv2d(c, f, 3, padding=1))
            self.deconvs.append(nn.ConvTranspose2d(f, c, 3, padding=1))
            self.shapes.append((f, h, w))  # conv output = pool input
            c, h, w = f, h // 2, w // 2
        self.feature_shape = (c, h, w)
        sizes = [c * h * w] + list(dense) + [code]
        self.enc = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        back = sizes[::-1]
        self.dec = nn.ModuleList(nn.Linear(a, b) for a, b in zip(back[:-1], back[1:]))

    def encode(self, x, switches=None):
        for conv in self.convs:
            x = self.act(conv(x))
            if switches is not None:
                x, idx = F.max_pool2d(x, 2, return_indices=True)
                switches.append(idx)
            else:
                x = F.max_pool2d(x, 2)
        x = x.flatten(1)
        for i, lin in enumerate(self.enc):
            x = lin(x)
            if i + 1 < len(self.enc):
                x = self.act(x)
        return x

    def forward(self, x):
        switches = [] if self.unpool == "switches" else None
        y = self.encode(x, switches)
        for lin in self.dec:
            y = self.act(lin(y))
        y = y.view(-1, *self.feature_shape)
        for l in reversed(range(len(self.convs))):
            _, h, w = self.shapes[l]
            if switches is not None:
                y = F.max_unpool2d(y, switches[l], 2, output_size=(h, w))
            else:
                y = F.interpolate(y, scale_factor=2, mode="nearest")
                y = F.pad(y, (0, w - y.shape[3], 0, h - y.shape[2]))
            y = self.deconvs[l](y)
            if l > 0:
                y = self.act(y)
        return y


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--rows", type=int, default=2560)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--filters", default="32,64")
    p.add_argument("--dense", default="")
    p.add_argument("--code", type=int, default=30)
    p.add_argument("--unpool", choices=["repeat", "switches"], default="repeat")
    p.add_argument("--act", choices=["relu", "tanh", "logistic"], default="relu")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--encode-rows", type=int, default=2560)
    p.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    rows = max(a.rows, a.encode_rows)
    x = torch.from_numpy(read_images(a.data + "/train-images-idx3-ubyte.gz", rows)).view(-1, 1, 28, 28)
    filters = [int(f) for f in a.filters.split(",") if f]
    dense = [int(f) for f in a.dense.split(",") if f]
    model = ConvAE(28, 28, 1, filters, dense, a.code, a.unpool, a.act)
    print(f"params {sum(t.numel() for t in model.parameters())}")
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.BCEWithLogitsLoss(reduction="sum")
    train = x[: a.rows]
    # One warm-up batch (allocations, first-call dispatch), then the timed epochs.
    for xb in (train[: a.batch],):
        opt.zero_grad(set_to_none=True)
        (loss_fn(model(xb), xb) / xb.shape[0]).backward()
        opt.step()
    t0 = time.perf_counter()
    for _ in range(a.epochs):
        perm = torch.randperm(a.rows)
        for s in range(0, a.rows, a.batch):
            xb = train[perm[s:s + a.batch]]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(xb), xb) / xb.shape[0]
            loss.backward()
            opt.step()
    dt = time.perf_counter() - t0
    print(f"train_images_per_s {a.epochs * a.rows / dt:.1f}")
    model.eval()
    with torch.no_grad():
        model.encode(x[:1])
        n1 = min(a.encode_rows, 500)
        t0 = time.perf_counter()
        for i in range(n1):
            model.encode(x[i:i + 1])
        print(f"encode_batch1_images_per_s {n1 / (time.perf_counter() - t0):.1f}")
        model.encode(x[:256])
        t0 = time.perf_counter()
        done = 0
        for s in range(0, a.encode_rows - 255, 256):
            model.encode(x[s:s + 256])
            done += 256
        print(f"encode_batch256_images_per_s {done / (time.perf_counter() - t0):.1f}")
    print(f"torch {torch.__version__}, {a.threads} threads")


if __name__ == "__main__":
    main()
