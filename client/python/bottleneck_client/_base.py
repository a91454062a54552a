"""The connection: channel, credentials, per-call metadata and deadlines, retries, stubs."""
from __future__ import annotations

import os
import time
from typing import Any, Callable, Iterable, Iterator, Optional, Union

import grpc

from bottleneck_client._proto.bottleneck.v1 import (collection_pb2_grpc, item_pb2_grpc,
                                                    model_pb2_grpc, query_pb2_grpc,
                                                    training_pb2_grpc)
from bottleneck_client.errors import BottleneckError, RetryPolicy, invalid

_MAX_MESSAGE_BYTES = 64 << 20  # bottleneckd accepts up to 64 MiB; decoded images can be large.
_HEALTH_CHECK = "/grpc.health.v1.Health/Check"
_HEALTH_STATUS = {0: "UNKNOWN", 1: "SERVING", 2: "NOT_SERVING", 3: "SERVICE_UNKNOWN"}


class Stubs:
    """The generated stubs of the v1 services, for anything the typed methods do not cover."""

    def __init__(self, channel: grpc.Channel):
        self.collections = collection_pb2_grpc.CollectionServiceStub(channel)
        self.training = training_pb2_grpc.TrainingServiceStub(channel)
        self.models = model_pb2_grpc.ModelServiceStub(channel)
        self.items = item_pb2_grpc.ItemServiceStub(channel)
        self.query = query_pb2_grpc.QueryServiceStub(channel)


class _Requests:
    """A request stream that remembers a client-side error raised while it is consumed (gRPC
    would report only that iterating the requests failed)."""

    def __init__(self, make: Callable[[], Iterable[Any]]):
        self._make = make
        self.error: Optional[BaseException] = None

    def __iter__(self) -> Iterator[Any]:
        try:
            yield from self._make()
        except Exception as error:  # re-raised by Connection.stream_call
            self.error = error
            raise


def _health_request(service: str) -> bytes:
    # grpc.health.v1.HealthCheckRequest {string service = 1;}, encoded by hand rather than with
    # generated stubs: grpcio-health-checking registers the same .proto file name, and two
    # versions of it in one process would clash in protobuf's descriptor pool.
    data = service.encode("utf-8")
    if not data:
        return b""
    length, varint = len(data), bytearray()
    while True:
        byte, length = length & 0x7F, length >> 7
        varint.append(byte | (0x80 if length else 0))
        if not length:
            break
    return b"\x0a" + bytes(varint) + data


def _health_status(data: bytes) -> str:
    # HealthCheckResponse {ServingStatus status = 1;}: tag 0x08, then a one-byte varint.
    if len(data) >= 2 and data[0] == 0x08:
        return _HEALTH_STATUS.get(data[1], f"STATUS_{data[1]}")
    return "UNKNOWN"


class Connection:
    """Owns the channel. Every call goes through call() or stream_call()."""

    def __init__(self, address: str, *, token: Optional[str] = None,
                 tls_ca: Union[str, os.PathLike, bytes, None] = None, tls: bool = False,
                 timeout: Optional[float] = 30.0, retry: Optional[RetryPolicy] = None,
                 options: Optional[list] = None):
        self.address = address
        self.timeout = timeout
        self.retry = retry if retry is not None else RetryPolicy()
        self._metadata = (("authorization", f"Bearer {token}"),) if token else ()
        channel_options = [("grpc.max_receive_message_length", _MAX_MESSAGE_BYTES),
                           ("grpc.max_send_message_length", _MAX_MESSAGE_BYTES)]
        channel_options += list(options or [])
        if tls_ca is not None or tls:
            roots = None
            if isinstance(tls_ca, bytes):
                roots = tls_ca
            elif tls_ca is not None:
                try:
                    with open(tls_ca, "rb") as f:
                        roots = f.read()
                except OSError as error:
                    raise invalid(f"tls_ca: cannot read {tls_ca}: {error.strerror}") from None
            credentials = grpc.ssl_channel_credentials(root_certificates=roots)
            self.channel = grpc.secure_channel(address, credentials, channel_options)
        else:
            self.channel = grpc.insecure_channel(address, channel_options)
        self.stubs = Stubs(self.channel)
        self._health = self.channel.unary_unary(
            _HEALTH_CHECK, request_serializer=None, response_deserializer=None)

    def close(self) -> None:
        self.channel.close()

    def call(self, method: Callable[..., Any], request: Any,
             timeout: Optional[float] = -1.0) -> Any:
        """A unary call with the token, the deadline and retries."""
        deadline = self.timeout if timeout == -1.0 else timeout
        return self.retry.call(
            lambda: method(request, timeout=deadline, metadata=self._metadata))

    def stream_call(self, method: Callable[..., Any], make_requests: Callable[[], Iterable[Any]],
                    timeout: Optional[float] = None) -> Any:
        """A client-streaming call; make_requests() builds the stream afresh for each attempt."""

        def attempt() -> Any:
            requests = _Requests(make_requests)
            try:
                return method(iter(requests), timeout=timeout, metadata=self._metadata)
            except grpc.RpcError:
                if requests.error is not None:
                    raise requests.error from None
                raise

        return self.retry.call(attempt)

    def server_stream(self, method: Callable[..., Any], request: Any,
                      on_message: Callable[[Any], None]) -> None:
        """A server-streaming call read to its end (no deadline), re-opened on retryable errors
        (the caller's on_message sees the messages of every attempt)."""

        def attempt() -> None:
            for message in method(request, metadata=self._metadata):
                on_message(message)

        self.retry.call(attempt)

    def health(self, service: str = "", timeout: Optional[float] = 5.0) -> str:
        """The standard gRPC health check: "SERVING", "NOT_SERVING", ... (no retries)."""
        try:
            return _health_status(self._health(_health_request(service), timeout=timeout,
                                               metadata=self._metadata))
        except grpc.RpcError as error:
            raise BottleneckError.from_rpc(error) from None

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Waits until the server answers its health check with SERVING."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                if self.health(timeout=max(0.1, min(5.0, deadline - time.monotonic()))) == \
                        "SERVING":
                    return
            except BottleneckError as error:
                if error.code != grpc.StatusCode.UNAVAILABLE and \
                        error.code != grpc.StatusCode.DEADLINE_EXCEEDED:
                    raise
            if time.monotonic() >= deadline:
                raise BottleneckError(grpc.StatusCode.DEADLINE_EXCEEDED,
                                      f"{self.address} not serving after {timeout} s")
            time.sleep(0.1)
