#!/usr/bin/python3
"""Writes the images of bench_input_decode with Pillow (Debian python3-pil, python3-numpy):
  OUT/png28/NNNN.png   1000 28x28 grey PNGs: the first Fashion-MNIST test images
  OUT/jpg256/NNNN.jpg   200 256x256 RGB JPEGs (quality 90, 4:2:0): Fashion-MNIST images enlarged
                        (bicubic) and tinted with colour gradients plus mild noise
Usage: /usr/bin/python3 bench/input_make_images.py OUT [FASHION_MNIST_DIR]
"""
import gzip
import os
import sys

import numpy as np
from PIL import Image

out = sys.argv[1]
fashion = sys.argv[2] if len(sys.argv) > 2 else "/usr/share/datasets/fashion-mnist"
with gzip.open(os.path.join(fashion, "t10k-images-idx3-ubyte.gz")) as f:
    images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)

os.makedirs(os.path.join(out, "png28"), exist_ok=True)
os.makedirs(os.path.join(out, "jpg256"), exist_ok=True)
for i in range(1000):
    Image.fromarray(images[i], "L").save(os.path.join(out, "png28", f"{i:04d}.png"))

rng = np.random.default_rng(0)
yy, xx = np.mgrid[0:256, 0:256] / 255.0
for i in range(200):
    big = np.asarray(Image.fromarray(images[i], "L").resize((256, 256), Image.BICUBIC), np.float64)
    tint = np.stack([0.4 + 0.6 * xx, 0.4 + 0.6 * yy, 1.0 - 0.5 * xx * yy], axis=-1)
    rgb = big[:, :, None] * tint + 40 * (1 - big[:, :, None] / 255) * tint[:, :, ::-1]
    rgb += rng.normal(0, 4, rgb.shape)
    Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8), "RGB").save(
        os.path.join(out, "jpg256", f"{i:04d}.jpg"), quality=90)
print(f"wrote 1000 PNGs and 200 JPEGs under {out}")
