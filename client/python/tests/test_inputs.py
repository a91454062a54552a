"""The conversions to messages, chunking and the PNG decoder, without a server."""
import io
import os
import struct
import zlib

import grpc
import numpy as np
import pytest

import bottleneck_client
from bottleneck_client import BottleneckError, RetryPolicy
from bottleneck_client import _inputs, _png, specs
from bottleneck_client.proto import common_pb2, model_pb2


def test_image_arrays_become_raw_images():
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    inputs = list(_inputs.image_inputs(images))
    raw = inputs[1].image.raw
    assert (raw.height, raw.width, raw.channels) == (3, 4, 1)
    assert raw.pixel_type == common_pb2.PIXEL_TYPE_UINT8
    assert raw.data == images[1].tobytes()
    rgb = _inputs.image_input(np.zeros((5, 6, 3), dtype=np.float64) + 0.5).image.raw
    assert (rgb.channels, rgb.pixel_type) == (3, common_pb2.PIXEL_TYPE_FLOAT32)
    assert np.frombuffer(rgb.data, "<f4").tolist() == [0.5] * 90


def test_paths_bytes_and_pil_images(tmp_path):
    pil = pytest.importorskip("PIL.Image")
    picture = pil.fromarray(np.full((4, 4), 9, dtype=np.uint8))
    path = tmp_path / "a.png"
    picture.save(path)
    from_path = _inputs.image_input(path)
    assert from_path.image.encoded == path.read_bytes()
    assert _inputs.image_input(str(path)).image.encoded == path.read_bytes()
    assert _inputs.image_input(path.read_bytes()).image.encoded == path.read_bytes()
    assert _inputs.image_input(picture).image.raw.data == bytes([9] * 16)
    assert _inputs.image_input(picture.convert("RGBA")).image.raw.channels == 3


@pytest.mark.parametrize("bad, message", [
    (np.zeros((2, 2, 2)), "C 1 or 3"),
    (np.zeros((2, 2), dtype=np.int64), "uint8"),
    (object(), "expected a path"),
    ("/no/such/file.png", "cannot read"),
])
def test_bad_images_are_refused_before_sending(bad, message):
    with pytest.raises(BottleneckError) as error:
        _inputs.image_input(bad)
    assert error.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert message in error.value.message


def test_document_forms():
    scipy_sparse = pytest.importorskip("scipy.sparse")
    assert _inputs.document_input("oil prices").document.text == b"oil prices"
    words = _inputs.document_input({"oil": 2, "wheat": 1}).document.words.counts
    assert [(w.word, w.count) for w in words] == [("oil", 2.0), ("wheat", 1.0)]
    listed = _inputs.document_input(["oil", "oil", "corn"]).document.words.counts
    assert sorted((w.word, w.count) for w in listed) == [("corn", 1.0), ("oil", 2.0)]
    by_id = _inputs.document_input({3: 2.0, 1: 1.0}).document.word_ids
    assert (list(by_id.ids), list(by_id.counts)) == ([3, 1], [2.0, 1.0])
    pair = _inputs.document_input(([4, 5], [1.5, 2])).document.word_ids
    assert (list(pair.ids), list(pair.counts)) == ([4, 5], [1.5, 2.0])
    bag = _inputs.document_input([7, 2, 7]).document.word_ids
    assert (list(bag.ids), list(bag.counts)) == ([2, 7], [1.0, 2.0])
    matrix = scipy_sparse.csr_matrix(np.array([[0, 2, 0, 1], [3, 0, 0, 0]], dtype=np.float32))
    rows = [d.document.word_ids for d in _inputs.document_inputs(matrix)]
    assert [(list(r.ids), list(r.counts)) for r in rows] == [([1, 3], [2, 1]), ([0], [3])]
    with pytest.raises(BottleneckError, match="non-negative"):
        _inputs.document_input(([-1], [1]))
    with pytest.raises(BottleneckError, match="2 word ids but 1 counts"):
        _inputs.document_input(([1, 2], [1]))


def test_exactly_one_source_and_matching_lengths():
    with pytest.raises(BottleneckError, match="exactly one of images, texts"):
        list(_inputs.inputs_of(images=np.zeros((1, 2, 2), np.uint8), texts=["a"]))
    with pytest.raises(BottleneckError, match="several texts"):
        list(_inputs.inputs_of(texts="one string"))
    assert list(_inputs.labels_of(np.array([3, 1]))) == ["3", "1"]


def test_codes_both_ways():
    floats = np.array([[0.5, -1.0, 2.0]], dtype=np.float32)
    messages = _inputs.code_messages(floats)
    assert list(messages[0].float_code.values) == [0.5, -1.0, 2.0]
    assert np.array_equal(_inputs.code_array(messages), floats)
    bits = np.array([[True, False, False, True, True, False, False, False, True, True]])
    binary = _inputs.code_messages(bits)[0].binary_code
    # Bit i is bit i % 8 of byte i // 8 (the API's packing).
    assert (binary.bits, binary.num_bits) == (bytes([0b00011001, 0b00000011]), 10)
    assert np.array_equal(_inputs.code_array(_inputs.code_messages(bits)), bits)
    with pytest.raises(BottleneckError, match="1-D code or a 2-D"):
        _inputs.code_messages(np.zeros((2, 2, 2)))


def test_chunks_bound_count_and_bytes():
    messages = [common_pb2.Item(id="x" * 100) for _ in range(25)]
    assert [len(c) for c in _inputs.chunks(messages, 10, 1 << 20)] == [10, 10, 5]
    assert [len(c) for c in _inputs.chunks(messages, 100, 250)] == [2] * 12 + [1]


def _encode_png(pixels, filters):
    """A PNG whose row y uses filter filters[y % len(filters)] (a reference encoder)."""
    height, width, channels = pixels.shape
    bpp, raw, previous = channels, b"", bytes(width * channels)

    def paeth(a, b, c):
        p = a + b - c
        pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
        return a if pa <= pb and pa <= pc else (b if pb <= pc else c)

    for y in range(height):
        row = pixels[y].tobytes()
        kind = filters[y % len(filters)]
        out = bytearray()
        for x, value in enumerate(row):
            left = row[x - bpp] if x >= bpp else 0
            up = previous[x]
            upper_left = previous[x - bpp] if x >= bpp else 0
            predictor = [0, left, up, (left + up) >> 1, paeth(left, up, upper_left)][kind]
            out.append((value - predictor) & 0xFF)
        raw += bytes([kind]) + bytes(out)
        previous = row

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(
            ">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    colour = {1: 0, 3: 2}[channels]
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8,
                                                              colour, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


@pytest.mark.parametrize("channels", [1, 3])
def test_png_decoder_reads_every_filter(channels):
    rng = np.random.default_rng(channels)
    pixels = rng.integers(0, 256, size=(10, 7, channels)).astype(np.uint8)
    data = _encode_png(pixels, [0, 1, 2, 3, 4])
    assert np.array_equal(_png._decode_pure(data), pixels)
    pil = pytest.importorskip("PIL.Image")  # The reference encoder agrees with Pillow.
    assert np.array_equal(np.asarray(pil.open(io.BytesIO(data))).reshape(pixels.shape), pixels)
    assert np.array_equal(_png.decode_png(data), pixels)


def test_model_spec_from_keywords():
    spec = specs.model_spec(conv=[32, 64], conv_dense=[256], unpooling="switches", kernel=[5, 3],
                            pool=[2, 0], code_size=16, code_noise=2.5, epochs=3,
                            optimizer="sgd", validation="by_label", lr_schedule="cosine")
    assert [(c.filters, c.kernel_size, c.pool_size) for c in spec.conv.encoder] == \
        [(32, 5, 2), (64, 3, 0)]
    assert list(spec.conv.dense_sizes) == [256] and spec.conv.code_size == 16
    assert spec.conv.unpooling == model_pb2.UNPOOLING_SWITCHES
    assert spec.conv.binary.noise_stddev == 2.5
    assert spec.training.optimizer == model_pb2.OPTIMIZER_KIND_SGD
    assert spec.training.validation == model_pb2.VALIDATION_SPLIT_BY_LABEL
    dense = specs.model_spec(dense=[100], pretrain=3, denoise=("gaussian", 0.1), patience=2,
                             gaussian=True, dropout=0.2)
    assert abs(dense.training.dropout - 0.2) < 1e-6
    assert dense.dense.pretraining.epochs_per_layer == 3 and dense.dense.gaussian_visible
    assert dense.dense.denoising.corruption == model_pb2.CORRUPTION_GAUSSIAN
    assert dense.training.early_stopping_patience == 2
    docs = specs.model_spec(dense=[500, 250], code_size=10, neighbours=20, neighbour_weight=0.6,
                            keep_last_epoch=True)
    assert docs.training.keep_last_epoch and not dense.training.keep_last_epoch
    assert docs.dense.neighbour_targets.count == 20
    assert abs(docs.dense.neighbour_targets.weight - 0.6) < 1e-6
    assert not dense.dense.HasField("neighbour_targets")
    assert specs.model_spec().WhichOneof("architecture") is None  # The server's recipe.
    for bad, message in [({"pca": 3, "dense": [4]}, "one architecture"),
                         ({"dense": [4], "activation": "sigmoid"}, "unknown value 'sigmoid'"),
                         ({"conv": [4, 8], "kernel": [3]}, "one value per conv layer"),
                         ({"epochs": 3, "colour": 1}, "unknown training options: colour"),
                         ({"code_size": 3}, "without an architecture")]:
        with pytest.raises(BottleneckError, match=message):
            specs.model_spec(**bad)


def test_retry_policy_backoff_and_validation():
    policy = RetryPolicy(initial_backoff=0.1, multiplier=2, max_backoff=0.3, jitter=0)
    assert [policy.backoff(a) for a in (1, 2, 3, 4)] == [0.1, 0.2, 0.3, 0.3]
    jittered = RetryPolicy(initial_backoff=1, jitter=0.5)
    assert all(0.5 <= jittered.backoff(1) <= 1 for _ in range(100))
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)


@pytest.mark.skipif(not os.environ.get("BN_EXPECT_INSTALLED"), reason="not run by run_tests.sh")
def test_the_installed_package_is_tested():
    venv = os.environ["BN_EXPECT_INSTALLED"]
    assert bottleneck_client.__file__.startswith(venv + "/"), bottleneck_client.__file__
    from bottleneck_client._proto.bottleneck.v1 import query_pb2_grpc
    assert query_pb2_grpc.__file__.startswith(venv + "/")
