"""CollectionService through the client, and its errors."""
import datetime

import grpc
import pytest

from bottleneck_client import BottleneckError


def test_create_get_list_delete(client, name):
    created = client.create_collection(name, image=(28, 28, 1), m=8, ef_search=32)
    assert (created.name, created.kind, created.image) == (name, "image", (28, 28, 1))
    assert (created.code_kind, created.distance) == ("float", "l2")  # Defaults filled in.
    assert created.raw.spec.index.m == 8 and created.raw.spec.index.ef_search == 32
    assert created.stats.item_count == 0 and created.stats.serving_model_version == 0
    assert created.stats.promotion is None
    assert isinstance(created.create_time, datetime.datetime)
    assert client.get_collection(name) == created
    assert name in [c.name for c in client.list_collections()]
    client.delete_collection(name)
    assert name not in [c.name for c in client.list_collections()]


def test_document_and_binary_collections(client, name):
    docs = client.create_collection(name, vocabulary=["oil", "wheat", "corn"],
                                    allow_raw_text=True)
    assert (docs.kind, docs.image, docs.vocabulary_size, docs.allow_raw_text) == \
        ("document", None, 3, True)
    binary = client.create_collection(name + "-b", vocabulary_size=100, binary=True)
    assert (binary.code_kind, binary.distance) == ("binary", "hamming")
    cosine = client.create_collection(name + "-c", image=(4, 4, 3), distance="cosine")
    assert cosine.distance == "cosine"


def test_errors_carry_the_code_and_message(client, name):
    client.create_collection(name, image=(8, 8, 1))
    with pytest.raises(BottleneckError) as error:
        client.create_collection(name, image=(8, 8, 1))
    assert error.value.code == grpc.StatusCode.ALREADY_EXISTS
    assert name in error.value.message
    with pytest.raises(BottleneckError) as error:
        client.get_collection("no-such-collection")
    assert error.value.code == grpc.StatusCode.NOT_FOUND
    for bad in ("bad/name", "", "x" * 65):
        with pytest.raises(BottleneckError) as error:
            client.create_collection(bad, image=(8, 8, 1))
        assert error.value.code == grpc.StatusCode.INVALID_ARGUMENT, bad
    with pytest.raises(BottleneckError) as error:  # The server checks the geometry.
        client.create_collection(name + "-x", image=(8, 8, 2))
    assert error.value.code == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(BottleneckError) as error:  # Hamming needs binary codes.
        client.create_collection(name + "-x", image=(8, 8, 1), distance="hamming")
    assert error.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert str(error.value).startswith("INVALID_ARGUMENT: ")
    with pytest.raises(BottleneckError) as error:
        client.delete_collection("no-such-collection")
    assert error.value.code == grpc.StatusCode.NOT_FOUND


@pytest.mark.parametrize("kwargs, message", [
    ({"image": (8, 8, 1), "vocabulary_size": 10}, "images or documents"),
    ({"image": (8, 8)}, "image=(height, width, channels)"),
    ({}, "give image="),
    ({"image": (8, 8, 1), "distance": "manhattan"}, "distance: one of"),
])
def test_client_side_checks_send_nothing(client, name, kwargs, message):
    with pytest.raises(BottleneckError) as error:
        client.create_collection(name, **kwargs)
    assert error.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert message in error.value.message
    with pytest.raises(BottleneckError):
        client.get_collection(name)


def test_health(client):
    assert client.health() == "SERVING"
    client.wait_ready(timeout=5)
