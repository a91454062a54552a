#!/usr/bin/env python3
"""PyTorch counterpart of bench_encode_speed: the 784-1000-500-250-30 encoder (ReLU hidden
units, linear code) in eval mode under torch.no_grad(): latency of one image (batch 1, p50/p99
over --calls calls) and throughput at batch 256, on the Fashion-MNIST test images.
--precision bf16 converts the weights and inputs to torch.bfloat16 (PyTorch's own bf16
inference; impl=torch-bf16), the counterpart of bench_encode_speed --precision bf16.

Run with Debian's python3-torch (scripts/install-deps.sh --bench), without the environment's
OpenBLAS overrides:
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 bench/encode_speed_torch.py \
      --threads 2
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
    p.add_argument("--calls", type=int, default=2000)
    p.add_argument("--batches", type=int, default=40)
    p.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--precision", choices=["f32", "bf16"], default="f32")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    x = torch.from_numpy(read_images(a.data + "/t10k-images-idx3-ubyte.gz", 10000))
    sizes = [784, 1000, 500, 250, 30]
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i != len(sizes) - 2:
            layers.append(nn.ReLU())
    enc = nn.Sequential(*layers).eval()
    if a.precision == "bf16":
        enc = enc.to(torch.bfloat16)
        x = x.to(torch.bfloat16)
    with torch.no_grad():
        for i in range(200):
            enc(x[i:i + 1])
        lat = []
        t0 = time.perf_counter()
        for i in range(a.calls):
            j = i % 10000
            t = time.perf_counter()
            enc(x[j:j + 1])
            lat.append(time.perf_counter() - t)
        b1_rate = a.calls / (time.perf_counter() - t0)
        lat.sort()
        windows = 10000 // 256
        for i in range(5):
            enc(x[(i % windows) * 256:(i % windows + 1) * 256])
        t1 = time.perf_counter()
        for i in range(a.batches):
            enc(x[(i % windows) * 256:(i % windows + 1) * 256])
        b256_rate = a.batches * 256 / (time.perf_counter() - t1)
    impl = "torch-bf16" if a.precision == "bf16" else "torch"
    print(f"RESULT what=encode impl={impl} model=dense threads={a.threads} "
          f"b1_p50_ms={lat[len(lat) // 2] * 1e3:.4f} b1_p99_ms={lat[len(lat) * 99 // 100] * 1e3:.4f} "
          f"b1_items_per_s={b1_rate:.1f} b256_items_per_s={b256_rate:.1f} torch={torch.__version__}")


if __name__ == "__main__":
    main()
