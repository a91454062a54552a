"""Dataset uploads from every image source, streamed in chunks, and their errors."""
import grpc
import numpy as np
import pytest

from bottleneck_client import BottleneckError
from conftest import synthetic_images


@pytest.fixture
def images_collection(client, name):
    client.create_collection(name, image=(8, 8, 1))
    return name


def test_upload_arrays_in_chunks(client, images_collection):
    labels = np.arange(50) % 4
    dataset = client.upload_dataset(images_collection, "train", images=synthetic_images(labels),
                                    labels=labels, chunk_size=7)  # 8 messages
    assert (dataset.collection, dataset.name) == (images_collection, "train")
    assert (dataset.example_count, dataset.labelled_count, dataset.skipped_count) == (50, 50, 0)
    # Float pixels in [0, 1], with a channel axis, unlabelled.
    floats = synthetic_images(labels, seed=1)[..., None] / 255.0
    dataset = client.upload_dataset(images_collection, "floats", images=floats)
    assert (dataset.example_count, dataset.labelled_count) == (50, 0)
    assert [d.name for d in client.list_datasets(images_collection)] == ["floats", "train"]
    assert client.get_dataset(images_collection, "train").example_count == 50
    client.delete_dataset(images_collection, "floats")
    with pytest.raises(BottleneckError) as error:
        client.get_dataset(images_collection, "floats")
    assert error.value.code == grpc.StatusCode.NOT_FOUND


def test_upload_files_bytes_and_pil_images(client, images_collection, tmp_path):
    pil = pytest.importorskip("PIL.Image")
    # Any size: the server converts to the collection's geometry (8x8 grey).
    pictures = [pil.fromarray(np.full((16, 12, 3), 40 * i, dtype=np.uint8)) for i in range(4)]
    paths = []
    for i, picture in enumerate(pictures):
        paths.append(tmp_path / f"{i}.png")
        picture.save(paths[-1])
    assert client.upload_dataset(images_collection, "paths", images=paths,
                                 labels="abcd").example_count == 4
    assert client.upload_dataset(images_collection, "bytes",
                                 images=[p.read_bytes() for p in paths]).example_count == 4
    assert client.upload_dataset(images_collection, "pil", images=pictures).example_count == 4


def test_invalid_examples_fail_the_upload_or_are_skipped(client, images_collection):
    images = list(synthetic_images([0, 1, 2]))
    images[1] = b"not an image"
    with pytest.raises(BottleneckError) as error:
        client.upload_dataset(images_collection, "bad", images=images)
    assert error.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "examples[1]" in error.value.message
    assert client.list_datasets(images_collection) == []  # Nothing left behind.
    dataset = client.upload_dataset(images_collection, "skipping", images=images,
                                    skip_invalid=True)
    assert (dataset.example_count, dataset.skipped_count) == (2, 1)
    assert dataset.skipped[0][0] == 1 and "examples[1]" in dataset.skipped[0][1]


def test_upload_errors(client, images_collection):
    images = synthetic_images([0, 1, 2])
    with pytest.raises(BottleneckError) as error:  # Client side: nothing is sent.
        client.upload_dataset(images_collection, "x", images=images, labels=["a", "b"])
    assert error.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "differ in length" in error.value.message
    with pytest.raises(BottleneckError, match="exactly one of"):
        client.upload_dataset(images_collection, "x", images=images, texts=["a"])
    with pytest.raises(BottleneckError, match="no examples"):
        client.upload_dataset(images_collection, "x", images=images[:0])
    with pytest.raises(BottleneckError, match="NxHxW"):
        client.upload_dataset(images_collection, "x", images=np.zeros(5, np.uint8))
    assert client.list_datasets(images_collection) == []
    client.upload_dataset(images_collection, "x", images=images)
    with pytest.raises(BottleneckError) as error:
        client.upload_dataset(images_collection, "x", images=images)
    assert error.value.code == grpc.StatusCode.ALREADY_EXISTS
    with pytest.raises(BottleneckError) as error:
        client.upload_dataset("no-such-collection", "x", images=images)
    assert error.value.code == grpc.StatusCode.NOT_FOUND
    with pytest.raises(BottleneckError) as error:  # Texts for an image collection.
        client.upload_dataset(images_collection, "y", texts=["oil"])
    assert error.value.code == grpc.StatusCode.INVALID_ARGUMENT
