#!/usr/bin/python3
"""Generates the image fixtures of tests/engine/input/image_test.cc with Pillow (a different
encoder/decoder than Bottleneck's), and their reference pixel values.

Run once from this directory with Debian's Python (python3-pil, python3-numpy):
    /usr/bin/python3 make_fixtures.py
Writes *.png / *.jpg and reference.txt. Each reference.txt line is
    name height width channels scale v0 v1 ...
with the pixel values (HWC order) as integers; the expected float value is v / scale.
"""
import numpy as np
from PIL import Image

refs = []


def ref(name, arr, scale=255):
    arr = np.asarray(arr)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    h, w, c = arr.shape
    refs.append(f"{name} {h} {w} {c} {scale} " + " ".join(str(int(v)) for v in arr.reshape(-1)))


def pattern(h, w, c, seed):
    y, x = np.mgrid[0:h, 0:w]
    chans = [((x * (37 + 13 * k) + y * (11 + 7 * k) + seed * 29) % 256) for k in range(c)]
    return np.stack(chans, axis=-1).astype(np.uint8)


# Lossless PNGs: the reference is the array that was written.
grey = pattern(6, 8, 1, 1)[:, :, 0]
Image.fromarray(grey, "L").save("grey_8x6.png")
ref("grey_8x6.png", grey)

rgb = pattern(7, 5, 3, 2)
Image.fromarray(rgb, "RGB").save("rgb_5x7.png")
ref("rgb_5x7.png", rgb)

rgba = np.concatenate([pattern(4, 4, 3, 3), pattern(4, 4, 1, 4)], axis=-1)
Image.fromarray(rgba, "RGBA").save("rgba_4x4.png")
ref("rgba_4x4.png", rgba[:, :, :3])  # Alpha is dropped.

pal = Image.fromarray(pattern(4, 6, 3, 5), "RGB").quantize(colors=8)
pal.save("palette_6x4.png")
ref("palette_6x4.png", np.asarray(pal.convert("RGB")))

bits = (pattern(5, 9, 1, 6)[:, :, 0] > 127)
Image.fromarray(bits).save("bilevel_9x5.png")  # Mode "1": a 1-bit grey PNG.
ref("bilevel_9x5.png", bits.astype(np.uint8) * 255)

g16 = (np.arange(12, dtype=np.uint32).reshape(3, 4) * 5957 % 65536).astype(np.uint16)
Image.fromarray(g16.astype(np.int32), "I").convert("I;16").save("grey16_4x3.png")
ref("grey16_4x3.png", np.asarray(Image.open("grey16_4x3.png")), scale=65535)

# JPEGs: the reference is Pillow's own decoding of the file it wrote.
smooth = np.zeros((16, 24, 3), np.uint8)
yy, xx = np.mgrid[0:16, 0:24]
smooth[:, :, 0] = xx * 10
smooth[:, :, 1] = yy * 15
smooth[:, :, 2] = 128 + (xx - yy) * 3
Image.fromarray(smooth, "RGB").save("rgb_24x16.jpg", quality=90)
ref("rgb_24x16.jpg", np.asarray(Image.open("rgb_24x16.jpg").convert("RGB")))
Image.fromarray(smooth, "RGB").save("rgb_progressive_24x16.jpg", quality=85, progressive=True,
                                    subsampling=0)
ref("rgb_progressive_24x16.jpg", np.asarray(Image.open("rgb_progressive_24x16.jpg").convert("RGB")))
Image.fromarray(smooth[:, :, 0], "L").save("grey_24x16.jpg", quality=90)
ref("grey_24x16.jpg", np.asarray(Image.open("grey_24x16.jpg")))

# Conversions computed by Pillow from the lossless fixtures.
ref("grey_8x6.png@box_4x3", np.asarray(Image.open("grey_8x6.png").resize((4, 3), Image.BOX)))
ref("grey_8x6.png@bilinear_13x11",
    np.asarray(Image.open("grey_8x6.png").resize((13, 11), Image.BILINEAR)))
ref("rgb_5x7.png@luma", np.asarray(Image.open("rgb_5x7.png").convert("L")))


# Area shrink by a non-integer ratio (8x6 -> 3x4, i.e. width 8->3, height 6->4), computed here
# exactly from pixel-interval overlaps with numpy (Pillow's BOX samples the filter instead).
def area_weights(n_in, n_out):
    w = np.zeros((n_out, n_in))
    s = n_in / n_out
    for o in range(n_out):
        lo, hi = o * s, (o + 1) * s
        for i in range(n_in):
            w[o, i] = max(0.0, min(hi, i + 1) - max(lo, i)) / s
    return w


exact = area_weights(6, 4) @ grey.astype(np.float64) @ area_weights(8, 3).T
# Stored at scale 255*1000 to keep three decimals.
ref("grey_8x6.png@area_3x4", np.rint(exact * 1000), scale=255000)

with open("reference.txt", "w") as f:
    f.write("\n".join(refs) + "\n")
