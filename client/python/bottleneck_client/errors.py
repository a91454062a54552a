"""The one exception type of the client, and how calls are retried."""
from __future__ import annotations

import dataclasses
import random
import time
from typing import Callable, Optional, Tuple, TypeVar

import grpc

T = TypeVar("T")


class BottleneckError(Exception):
    """Every failure: the gRPC status code (grpc.StatusCode) and the server's message.

    Server errors carry the server's code (INVALID_ARGUMENT, NOT_FOUND, ...). Input the client
    can check itself (an array of the wrong shape, no query given) raises INVALID_ARGUMENT
    before anything is sent. A training job that ends FAILED raises ABORTED with the job's error
    (CANCELLED when cancelled); a promotion that ends without switching raises ABORTED; a wait
    that runs out raises DEADLINE_EXCEEDED. `job` is the job's id for errors about a job.
    """

    def __init__(self, code: grpc.StatusCode, message: str, job: Optional[str] = None):
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.message = message
        self.job = job

    @classmethod
    def from_rpc(cls, error: grpc.RpcError) -> "BottleneckError":
        code = error.code() if hasattr(error, "code") else grpc.StatusCode.UNKNOWN
        details = error.details() if hasattr(error, "details") else str(error)
        return cls(code or grpc.StatusCode.UNKNOWN, details or "")


def invalid(message: str) -> BottleneckError:
    """A client-side INVALID_ARGUMENT (nothing was sent)."""
    return BottleneckError(grpc.StatusCode.INVALID_ARGUMENT, message)


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    """Retries of calls the server refused without doing anything.

    RESOURCE_EXHAUSTED is the server's admission control (a limit such as
    --max-inflight-queries or --max-dataset-uploads is reached; the call changed nothing) and
    UNAVAILABLE means the server could not be reached (starting, restarting, a dropped
    connection). Such a call is tried up to `max_attempts` times in all, waiting
    initial_backoff * multiplier**(attempt - 1) seconds (at most max_backoff), each wait scaled
    by a random factor in [1 - jitter, 1] so that many clients do not retry in step. Streams
    (uploads, bulk upserts, job watches) are re-sent from the start: uploads are all or nothing
    and upserts replace items by id, so a retry never duplicates data. A create or
    StartTraining whose reply was lost to UNAVAILABLE may have happened: retried, it then gets
    ALREADY_EXISTS, or a second job starts. RetryPolicy(max_attempts=1) turns retries off.
    on_retry(attempt, error, wait_seconds), if set, is called before each wait (e.g. to log).
    """

    max_attempts: int = 5
    initial_backoff: float = 0.2
    max_backoff: float = 5.0
    multiplier: float = 2.0
    jitter: float = 0.2
    codes: Tuple[grpc.StatusCode, ...] = (grpc.StatusCode.RESOURCE_EXHAUSTED,
                                          grpc.StatusCode.UNAVAILABLE)
    on_retry: Optional[Callable[[int, BottleneckError, float], None]] = dataclasses.field(
        default=None, compare=False)

    def __post_init__(self):
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be >= 1")
        if self.initial_backoff < 0 or self.max_backoff < 0 or self.multiplier < 1:
            raise ValueError("backoffs must be >= 0 and the multiplier >= 1")
        if not 0 <= self.jitter <= 1:
            raise ValueError("jitter must be in [0, 1]")

    def backoff(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        base = min(self.max_backoff, self.initial_backoff * self.multiplier ** (attempt - 1))
        return base * (1 - self.jitter * random.random())

    def call(self, function: Callable[[], T]) -> T:
        """function() with retries; any gRPC error becomes a BottleneckError."""
        attempt = 1
        while True:
            try:
                return function()
            except grpc.RpcError as rpc_error:
                error = BottleneckError.from_rpc(rpc_error)
            if attempt >= self.max_attempts or error.code not in self.codes:
                raise error
            wait = self.backoff(attempt)
            if self.on_retry is not None:
                self.on_retry(attempt, error, wait)
            time.sleep(wait)
            attempt += 1
