"""Decodes the PNG images Decode returns into numpy arrays, without Pillow.

The server writes non-interlaced 8-bit grey or RGB PNGs; this reads any non-interlaced 8-bit PNG
of colour type grey, RGB, grey+alpha or RGBA (alpha is dropped). Pillow is used instead when it
is installed (faster for large images).
"""
from __future__ import annotations

import struct
import zlib

import numpy as np

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}  # colour type -> samples per pixel


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def _unfilter(raw: bytes, height: int, stride: int, bpp: int) -> np.ndarray:
    out = bytearray(height * stride)
    previous = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind = raw[start]
        row = bytearray(raw[start + 1:start + 1 + stride])
        if kind == 2:  # Up
            row = bytearray((a + b) & 0xFF for a, b in zip(row, previous))
        elif kind in (1, 3, 4):  # Sub, Average, Paeth use the left neighbour: byte by byte.
            for x in range(stride):
                left = row[x - bpp] if x >= bpp else 0
                if kind == 1:
                    predictor = left
                elif kind == 3:
                    predictor = (left + previous[x]) >> 1
                else:
                    predictor = _paeth(left, previous[x], previous[x - bpp] if x >= bpp else 0)
                row[x] = (row[x] + predictor) & 0xFF
        elif kind != 0:
            raise ValueError(f"PNG: unknown filter type {kind}")
        out[y * stride:(y + 1) * stride] = row
        previous = row
    return np.frombuffer(bytes(out), dtype=np.uint8).reshape(height, stride)


def _decode_pure(data: bytes) -> np.ndarray:
    if not data.startswith(_SIGNATURE):
        raise ValueError("not a PNG file")
    position, idat, header = len(_SIGNATURE), [], None
    while position + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[position:position + 8])
        body = data[position + 8:position + 8 + length]
        position += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    if header is None:
        raise ValueError("PNG without IHDR")
    width, height, depth, colour, _, _, interlace = header
    if depth != 8 or colour not in _CHANNELS or interlace != 0:
        raise ValueError(f"PNG: only non-interlaced 8-bit grey/RGB(A) images are read "
                         f"(depth {depth}, colour type {colour}, interlace {interlace})")
    channels = _CHANNELS[colour]
    pixels = _unfilter(zlib.decompress(b"".join(idat)), height, width * channels, channels)
    pixels = pixels.reshape(height, width, channels)
    return pixels[:, :, :1 if channels <= 2 else 3]


def decode_png(data: bytes) -> np.ndarray:
    """HxWx1 or HxWx3 uint8 array."""
    try:
        import io

        from PIL import Image
    except ImportError:
        return _decode_pure(data)
    with Image.open(io.BytesIO(data)) as image:
        array = np.asarray(image.convert("L" if image.mode in ("L", "LA", "I", "1") else "RGB"))
    return array[:, :, None] if array.ndim == 2 else array
