"""Python values to v1 Input messages (images, documents), codes both ways, and chunking."""
from __future__ import annotations

import collections
import os
from typing import Any, Iterable, Iterator, List, Optional, Sequence

import numpy as np

from bottleneck_client._proto.bottleneck.v1 import common_pb2
from bottleneck_client.errors import invalid


def _is_pil(value: Any) -> bool:
    return type(value).__module__.startswith("PIL.") and hasattr(value, "convert")


def _raw_image(array: np.ndarray, what: str) -> common_pb2.RawImage:
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3 or array.shape[2] not in (1, 3):
        raise invalid(f"{what}: an image is HxW or HxWxC with C 1 or 3, got shape {array.shape}")
    h, w, c = array.shape
    if array.dtype == np.uint8:
        pixel_type, data = common_pb2.PIXEL_TYPE_UINT8, np.ascontiguousarray(array).tobytes()
    elif np.issubdtype(array.dtype, np.floating):
        pixel_type = common_pb2.PIXEL_TYPE_FLOAT32
        data = np.ascontiguousarray(array, dtype="<f4").tobytes()
    else:
        raise invalid(f"{what}: pixels must be uint8 (0..255) or float (0..1), got {array.dtype}")
    return common_pb2.RawImage(height=h, width=w, channels=c, pixel_type=pixel_type, data=data)


def image_input(image: Any, what: str = "image") -> common_pb2.Input:
    """One image: a path or bytes of a PNG/JPEG file, an HxW[xC] array or a PIL image."""
    if isinstance(image, (str, os.PathLike)):
        try:
            with open(image, "rb") as f:
                encoded = f.read()
        except OSError as error:
            raise invalid(f"{what}: cannot read {image}: {error.strerror}") from None
        return common_pb2.Input(image=common_pb2.Image(encoded=encoded))
    if isinstance(image, (bytes, bytearray, memoryview)):
        return common_pb2.Input(image=common_pb2.Image(encoded=bytes(image)))
    if _is_pil(image):
        image = np.asarray(image if image.mode in ("L", "RGB") else image.convert("RGB"))
    if isinstance(image, np.ndarray):
        return common_pb2.Input(image=common_pb2.Image(raw=_raw_image(image, what)))
    raise invalid(f"{what}: expected a path, PNG/JPEG bytes, a numpy array or a PIL image, "
                  f"got {type(image).__name__}")


def image_inputs(images: Any) -> Iterator[common_pb2.Input]:
    """Many images: an NxHxW or NxHxWxC array, or a sequence of what image_input takes."""
    if isinstance(images, np.ndarray):
        if images.ndim not in (3, 4):
            raise invalid(f"images: an array of images is NxHxW or NxHxWxC, got shape "
                          f"{images.shape}")
        for i in range(images.shape[0]):
            yield image_input(images[i], f"images[{i}]")
        return
    if isinstance(images, (str, bytes, os.PathLike)) or _is_pil(images):
        raise invalid("images: expected several images (an array or a list); use a list of one")
    for i, image in enumerate(images):
        yield image_input(image, f"images[{i}]")


def _word_ids(ids: Any, counts: Any, what: str) -> common_pb2.Input:
    ids = np.asarray(ids).reshape(-1)
    counts = np.asarray(counts, dtype=np.float64).reshape(-1)
    if ids.shape != counts.shape:
        raise invalid(f"{what}: {ids.size} word ids but {counts.size} counts")
    if ids.size and (not np.issubdtype(ids.dtype, np.integer) or ids.min() < 0):
        raise invalid(f"{what}: word ids must be non-negative integers")
    return common_pb2.Input(document=common_pb2.Document(word_ids=common_pb2.SparseCounts(
        ids=[int(i) for i in ids], counts=[float(c) for c in counts])))


def document_input(doc: Any, what: str = "document") -> common_pb2.Input:
    """One document: text (str or UTF-8 bytes), {word: count}, {word_id: count}, (ids, counts),
    a list of word ids or of words (each occurrence counts once) or a 1xV scipy.sparse row."""
    if isinstance(doc, str):
        return common_pb2.Input(document=common_pb2.Document(text=doc.encode("utf-8")))
    if isinstance(doc, (bytes, bytearray)):
        return common_pb2.Input(document=common_pb2.Document(text=bytes(doc)))
    if hasattr(doc, "tocsr"):  # scipy.sparse
        row = doc.tocsr()
        if row.shape[0] != 1:
            raise invalid(f"{what}: a sparse document is one row, got shape {row.shape}")
        row.sum_duplicates()
        return _word_ids(row.indices.astype(np.int64), row.data, what)
    if isinstance(doc, dict):
        if all(isinstance(k, str) for k in doc):
            counts = [common_pb2.WordCount(word=w, count=float(c)) for w, c in doc.items()]
            return common_pb2.Input(document=common_pb2.Document(
                words=common_pb2.WordCounts(counts=counts)))
        return _word_ids(list(doc.keys()), list(doc.values()), what)
    if isinstance(doc, tuple) and len(doc) == 2 and all(np.ndim(part) == 1 for part in doc):
        return _word_ids(doc[0], doc[1], what)
    if isinstance(doc, list) and doc and all(isinstance(w, str) for w in doc):
        return document_input(dict(collections.Counter(doc)), what)
    if isinstance(doc, (list, np.ndarray)):
        ids, counts = np.unique(np.asarray(doc, dtype=np.int64), return_counts=True)
        return _word_ids(ids, counts, what)
    raise invalid(f"{what}: expected text, a dict of counts, (ids, counts), a list of word ids "
                  f"or a sparse row, got {type(doc).__name__}")


def document_inputs(docs: Any, what: str = "docs") -> Iterator[common_pb2.Input]:
    """Many documents: a sequence of what document_input takes, or a scipy.sparse matrix whose
    rows are documents (counts by word id)."""
    if isinstance(docs, (str, bytes, dict)):
        raise invalid(f"{what}: expected several documents (a list); use a list of one")
    if hasattr(docs, "tocsr"):
        matrix = docs.tocsr()
        matrix.sum_duplicates()
        for i in range(matrix.shape[0]):
            start, end = matrix.indptr[i], matrix.indptr[i + 1]
            yield _word_ids(matrix.indices[start:end].astype(np.int64),
                            matrix.data[start:end], f"{what}[{i}]")
        return
    for i, doc in enumerate(docs):
        yield document_input(doc, f"{what}[{i}]")


def inputs_of(images: Any = None, texts: Any = None, word_ids: Any = None, docs: Any = None,
              what: str = "inputs") -> Iterator[common_pb2.Input]:
    """Exactly one of the sources, as Input messages."""
    sources = (("images", images), ("texts", texts), ("word_ids", word_ids), ("docs", docs))
    given = [name for name, value in sources if value is not None]
    if len(given) != 1:
        raise invalid(f"{what}: give exactly one of images, texts, word_ids or docs"
                      + (f" (got {', '.join(given)})" if given else ""))
    if images is not None:
        return image_inputs(images)
    if texts is not None:
        if isinstance(texts, (str, bytes)):
            raise invalid("texts: expected several texts (a list); use a list of one")
        return document_inputs(texts, "texts")
    return document_inputs(word_ids if word_ids is not None else docs,
                           "word_ids" if word_ids is not None else "docs")


def query_input(image: Any = None, text: Any = None, doc: Any = None) -> common_pb2.Input:
    if image is not None:
        return image_input(image)
    if text is not None:
        return document_input(text if isinstance(text, (str, bytes)) else str(text), "text")
    return document_input(doc, "doc")


def labels_of(labels: Optional[Sequence[Any]]) -> Iterator[str]:
    """Labels as strings (numpy integers print as integers); None: unlabelled."""
    if labels is None:
        while True:
            yield ""
    for label in (labels.tolist() if isinstance(labels, np.ndarray) else labels):
        yield "" if label is None else str(label)


def code_messages(codes: Any) -> List[common_pb2.Code]:
    """A code (1-D) or codes (2-D): float arrays become float codes, bool arrays binary codes
    (bit i of a code is bit i % 8 of byte i // 8, as the API packs them)."""
    array = np.asarray(codes)
    if array.ndim == 1:
        array = array[None, :]
    if array.ndim != 2 or array.shape[1] == 0:
        raise invalid(f"codes: expected a 1-D code or a 2-D array of codes, got shape "
                      f"{array.shape}")
    if array.dtype == np.bool_:
        return [common_pb2.Code(binary_code=common_pb2.BinaryCode(
            bits=np.packbits(row, bitorder="little").tobytes(), num_bits=array.shape[1]))
            for row in array]
    if not np.issubdtype(array.dtype, np.number):
        raise invalid(f"codes: expected float or bool values, got {array.dtype}")
    return [common_pb2.Code(float_code=common_pb2.FloatCode(values=row.tolist()))
            for row in array.astype(np.float32)]


def code_array(codes: Sequence[common_pb2.Code]) -> np.ndarray:
    """Code messages as a float32 array (float codes) or a bool array (binary codes)."""
    if not codes:
        return np.zeros((0, 0), dtype=np.float32)
    if codes[0].WhichOneof("kind") == "binary_code":
        n = codes[0].binary_code.num_bits
        packed = np.frombuffer(b"".join(c.binary_code.bits for c in codes), dtype=np.uint8)
        bits = np.unpackbits(packed.reshape(len(codes), -1), axis=1, bitorder="little")
        return bits[:, :n].astype(bool)
    return np.array([list(c.float_code.values) for c in codes], dtype=np.float32)


def chunks(messages: Iterable[Any], max_count: int, max_bytes: int) -> Iterator[List[Any]]:
    """Groups messages into lists of at most max_count items and about max_bytes bytes."""
    batch: List[Any] = []
    size = 0
    for message in messages:
        message_size = message.ByteSize()
        if batch and (len(batch) >= max_count or size + message_size > max_bytes):
            yield batch
            batch, size = [], 0
        batch.append(message)
        size += message_size
    if batch:
        yield batch
