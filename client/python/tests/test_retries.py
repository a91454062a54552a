"""Retries with backoff: UNAVAILABLE (no server yet) and RESOURCE_EXHAUSTED (admission control)."""
import socket
import threading
import time

import grpc
import numpy as np
import pytest

from bottleneck_client import BottleneckError, Client, RetryPolicy
from bottleneck_client.proto import common_pb2, training_pb2
from conftest import NO_RETRY, Server, synthetic_images

# gRPC's own reconnection backoff is 1 s at first: keep it short so that the retries see the
# server soon after it starts.
FAST_RECONNECT = [("grpc.initial_reconnect_backoff_ms", 100),
                  ("grpc.min_reconnect_backoff_ms", 100), ("grpc.max_reconnect_backoff_ms", 200)]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unavailable_is_retried_until_the_server_is_up():
    port = free_port()
    retries = []
    policy = RetryPolicy(max_attempts=30, initial_backoff=0.1, max_backoff=0.5,
                         on_retry=lambda attempt, error, wait: retries.append(error.code))
    servers = []
    starter = threading.Timer(1.0, lambda: servers.append(Server(listen=f"127.0.0.1:{port}")))
    starter.start()
    try:
        with Client(f"127.0.0.1:{port}", retry=policy, channel_options=FAST_RECONNECT) as c:
            assert c.list_collections() == []
        assert retries and set(retries) == {grpc.StatusCode.UNAVAILABLE}
    finally:
        starter.join()
        for s in servers:
            s.stop()


def test_without_retries_unavailable_is_raised_at_once():
    with Client(f"127.0.0.1:{free_port()}", retry=NO_RETRY) as c:
        start = time.monotonic()
        with pytest.raises(BottleneckError) as error:
            c.list_collections()
        assert error.value.code == grpc.StatusCode.UNAVAILABLE
        assert time.monotonic() - start < 5
    attempts = []
    policy = RetryPolicy(max_attempts=3, initial_backoff=0.05, jitter=0,
                         on_retry=lambda a, e, w: attempts.append((a, w)))
    with Client(f"127.0.0.1:{free_port()}", retry=policy) as c:
        with pytest.raises(BottleneckError) as error:
            c.list_collections()
        assert error.value.code == grpc.StatusCode.UNAVAILABLE
    assert attempts == [(1, 0.05), (2, 0.1)]  # Two waits between three attempts.


@pytest.fixture
def one_upload_server():
    s = Server("--max-dataset-uploads=1", "--metrics-listen=127.0.0.1:0")
    yield s
    s.stop()


def hold_an_upload(server, collection, release):
    """Starts an upload whose stream stays open until `release` is set; returns its thread."""
    stub_client = Client(server.address, retry=NO_RETRY)
    result = {}

    def requests():
        image = common_pb2.Input(image=common_pb2.Image(raw=common_pb2.RawImage(
            height=8, width=8, channels=1, pixel_type=common_pb2.PIXEL_TYPE_UINT8,
            data=bytes(64))))
        yield training_pb2.UploadDatasetRequest(collection=collection, dataset="held",
                                                examples=[training_pb2.Example(input=image)])
        release.wait(60)

    def run():
        result["dataset"] = stub_client.stubs.training.UploadDataset(requests())
        stub_client.close()

    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.monotonic() + 30
    while server.metric("bottleneck_admission_in_flight", kind="upload") != 1:
        assert time.monotonic() < deadline, "the held upload never took its slot"
        time.sleep(0.05)
    return thread, result


def test_resource_exhausted_is_retried_with_backoff(one_upload_server):
    server = one_upload_server
    images = synthetic_images(np.arange(20) % 4)
    with Client(server.address, retry=NO_RETRY) as plain:
        plain.create_collection("c", image=(8, 8, 1))
        release = threading.Event()
        thread, held = hold_an_upload(server, "c", release)
        try:
            with pytest.raises(BottleneckError) as error:  # Refused at once, nothing stored.
                plain.upload_dataset("c", "second", images=images)
            assert error.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert "--max-dataset-uploads" in error.value.message
            refusals = []

            def on_retry(attempt, error, wait):
                refusals.append(error.code)
                if attempt == 2:
                    release.set()  # The held upload completes; a later attempt gets the slot.

            policy = RetryPolicy(max_attempts=20, initial_backoff=0.1, max_backoff=0.3,
                                 on_retry=on_retry)
            with Client(server.address, retry=policy) as retrying:
                dataset = retrying.upload_dataset("c", "second", images=images, chunk_size=4)
            assert dataset.example_count == 20
            assert len(refusals) >= 2 and set(refusals) == {grpc.StatusCode.RESOURCE_EXHAUSTED}
        finally:
            release.set()
            thread.join()
        assert held["dataset"].example_count == 1
        assert sorted(d.name for d in plain.list_datasets("c")) == ["held", "second"]
        assert server.metric("bottleneck_admission_refused_total", kind="upload") >= 3
