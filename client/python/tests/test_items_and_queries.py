"""ItemService and QueryService: upsert, get, delete, search, encode, decode."""
import grpc
import numpy as np
import pytest

from bottleneck_client import BottleneckError, SearchHit
from conftest import synthetic_images

LABELS = np.arange(200) % 4


@pytest.fixture
def items(client, served):
    result = client.upsert(served, [f"img-{i}" for i in range(200)],
                           images=synthetic_images(LABELS, seed=5), labels=LABELS,
                           metadata=[{"n": i, "parity": i % 2} for i in range(200)],
                           chunk_size=64)
    assert (result.upserted, result.pending, result.serving_model_version) == (200, 0, 1)
    return served


def test_get_and_delete_items(client, items):
    item = client.get_item(items, "img-5", include_code=True)
    assert (item.id, item.label, item.metadata) == ("img-5", "1", {"n": "5", "parity": "1"})
    assert item.code.dtype == np.float32 and item.code.shape == (4,)
    assert item.model_version == 1
    assert item.input.image.raw.data == synthetic_images(LABELS, seed=5)[5].tobytes()
    assert client.get_item(items, "img-5").code is None
    assert client.delete_items(items, ["img-5", "img-6", "missing"]) == 2
    with pytest.raises(BottleneckError) as error:
        client.get_item(items, "img-5")
    assert error.value.code == grpc.StatusCode.NOT_FOUND
    assert client.get_collection(items).stats.item_count == 198


def test_search_by_image_item_and_code(client, items):
    hits = client.search(items, image=synthetic_images([2], seed=9)[0], k=5)
    assert len(hits) == 5 and all(isinstance(h, SearchHit) for h in hits)
    assert [h.label for h in hits] == ["2"] * 5
    assert hits[0].metadata["n"] == str(int(hits[0].id[4:]))
    assert [h.distance for h in hits] == sorted(h.distance for h in hits)
    by_item = client.search(items, item_id="img-3", k=4, ef=64)
    assert "img-3" not in [h.id for h in by_item] and {h.label for h in by_item} == {"3"}
    code = client.get_item(items, "img-3", include_code=True).code
    by_code = client.search(items, code=code, k=5, exact=True)
    assert by_code[0].id == "img-3" and by_code[0].distance == pytest.approx(0, abs=1e-6)


def test_encode_and_decode(client, items):
    images = synthetic_images(np.arange(1100) % 4, seed=3)
    codes = client.encode(items, images=images)  # 1100 inputs: two Encode calls.
    assert codes.shape == (1100, 4) and codes.dtype == np.float32
    one = client.encode(items, image=images[7])
    assert one.shape == (4,) and np.allclose(one, codes[7], atol=1e-5)
    decoded = client.decode(items, codes[:10])
    assert decoded.shape == (10, 8, 8) and decoded.dtype == np.uint8
    # PCA-4 of four patterns: the reconstructions are close to the noisy inputs.
    error = np.abs(decoded.astype(int) - images[:10].astype(int)).mean()
    assert error < 20, error
    assert client.decode(items, codes[0]).shape == (8, 8)


def test_colour_images_and_pil(client, name):
    pil = pytest.importorskip("PIL.Image")
    rng = np.random.default_rng(0)
    colours = rng.integers(0, 256, size=(60, 6, 6, 3)).astype(np.uint8)
    client.create_collection(name, image=(6, 6, 3))
    client.upload_dataset(name, "train", images=colours)
    client.train(name, "train", pca=8, promote=True)
    pictures = [pil.fromarray(c) for c in colours[:3]]
    client.upsert(name, ["a", "b", "c"], images=pictures)
    assert client.search(name, image=pictures[1], k=1, exact=True)[0].id == "b"
    decoded = client.decode(name, client.encode(name, images=pictures))
    assert decoded.shape == (3, 6, 6, 3)


def test_items_before_a_model_are_pending(client, name):
    client.create_collection(name, image=(8, 8, 1))
    result = client.upsert(name, ["a", "b"], images=synthetic_images([0, 1]))
    assert (result.upserted, result.pending, result.serving_model_version) == (2, 2, 0)
    with pytest.raises(BottleneckError) as error:
        client.search(name, item_id="a")
    assert error.value.code == grpc.StatusCode.FAILED_PRECONDITION


def test_bad_queries_and_items(client, items):
    image = synthetic_images([0])[0]
    for kwargs in ({}, {"image": image, "item_id": "img-1"}):
        with pytest.raises(BottleneckError, match="exactly one of image"):
            client.search(items, **kwargs)
    with pytest.raises(BottleneckError) as error:
        client.search(items, image=image, k=5000)
    assert error.value.code == grpc.StatusCode.INVALID_ARGUMENT and "k" in error.value.message
    with pytest.raises(BottleneckError) as error:
        client.search(items, code=np.zeros(7, np.float32))  # The model's codes have 4 values.
    assert error.value.code == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(BottleneckError) as error:
        client.search(items, code=np.array([np.nan, 0, 0, 0], np.float32))
    assert error.value.code == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(BottleneckError) as error:
        client.search(items, item_id="missing")
    assert error.value.code == grpc.StatusCode.NOT_FOUND
    with pytest.raises(BottleneckError) as error:
        client.encode(items, texts=["a document"])
    assert error.value.code == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(BottleneckError) as error:
        client.decode(items, np.zeros((2, 4), np.float32), model_version=7)
    assert error.value.code == grpc.StatusCode.NOT_FOUND
    # Mismatched lengths and a bad item are refused whole: nothing is written.
    with pytest.raises(BottleneckError, match="differ in length"):
        client.upsert(items, ["x", "y"], images=synthetic_images([0]))
    with pytest.raises(BottleneckError) as error:
        client.upsert(items, ["x", "bad\nid"], images=synthetic_images([0, 1]))
    assert error.value.code == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(BottleneckError, match="list of item ids"):
        client.upsert(items, "x", images=synthetic_images([0]))
    with pytest.raises(BottleneckError):
        client.get_item(items, "x")
    assert client.get_collection(items).stats.item_count == 200
