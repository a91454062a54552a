"""Client methods of TrainingService (jobs) and ModelService (versions, promotion)."""
from __future__ import annotations

import time
from typing import Any, Callable, List, Optional

import grpc

from bottleneck_client._base import Connection
from bottleneck_client._proto.bottleneck.v1 import model_pb2, training_pb2
from bottleneck_client.errors import BottleneckError
from bottleneck_client.specs import model_spec
from bottleneck_client.types import Collection, Job, JobProgress, Model, Promotion


class TrainingMixin:
    _conn: Connection

    def get_collection(self, name: str) -> Collection:  # Defined by Client.
        raise NotImplementedError

    def start_training(self, collection: str, dataset: str, *, promote: bool = False,
                       description: str = "", **spec: Any) -> Job:
        """Queues a training job and returns at once. `spec` is what specs.model_spec takes:
        an architecture (pca=, lsa=, dense=, conv= with their options; none: the server's
        default recipe) and training options, or spec=model_pb2.ModelSpec(...). With
        promote=True the server promotes the model when the job succeeds."""
        request = training_pb2.StartTrainingRequest(
            collection=collection, dataset=dataset, spec=model_spec(**spec),
            promote_when_done=promote, description=description)
        return Job.from_proto(self._conn.call(self._conn.stubs.training.StartTraining, request))

    def watch_job(self, job_id: str,
                  on_progress: Optional[Callable[[JobProgress], None]] = None) -> Job:
        """Follows the job (WatchJob) until it ends, calling on_progress with every update, and
        returns the final Job (whatever its state)."""

        def on_message(message: training_pb2.JobProgress) -> None:
            if on_progress is not None:
                on_progress(JobProgress.from_proto(message))

        self._conn.server_stream(self._conn.stubs.training.WatchJob,
                                 training_pb2.WatchJobRequest(job_id=job_id), on_message)
        return self.get_job(job_id)

    def train(self, collection: str, dataset: str, *, promote: bool = False, wait: bool = True,
              on_progress: Optional[Callable[[JobProgress], None]] = None,
              on_promotion: Optional[Callable[[Promotion], None]] = None,
              timeout: Optional[float] = None, description: str = "", **spec: Any) -> Model:
        """Trains a model version and returns it with its evaluation report.

        Starts the job (start_training), follows it with on_progress (watch_job) and returns the
        new Model. A job that ends FAILED raises BottleneckError ABORTED with the job's error
        (CANCELLED, INTERRUPTED: CANCELLED). With promote=True the server promotes the model;
        with wait=True (the default) this also waits until it serves the collection
        (promote(wait=True); on_promotion sees the re-encoding), so the next search uses it.
        """
        job = self.start_training(collection, dataset, promote=promote, description=description,
                                  **spec)
        job = self.watch_job(job.id, on_progress)
        if job.state != "SUCCEEDED":
            code = grpc.StatusCode.ABORTED if job.state == "FAILED" else \
                grpc.StatusCode.CANCELLED
            raise BottleneckError(code, f"job {job.id} {job.state}" +
                                  (f": {job.error}" if job.error else ""), job=job.id)
        if promote and wait:
            self.promote(collection, job.model_version, wait=True, on_progress=on_promotion,
                         timeout=timeout)
        return self.get_model(collection, job.model_version)

    def get_job(self, job_id: str) -> Job:
        return Job.from_proto(self._conn.call(self._conn.stubs.training.GetJob,
                                              training_pb2.GetJobRequest(job_id=job_id)))

    def list_jobs(self, collection: str = "") -> List[Job]:
        """Jobs of one collection, or of every collection."""
        response = self._conn.call(self._conn.stubs.training.ListJobs,
                                   training_pb2.ListJobsRequest(collection=collection))
        return [Job.from_proto(j) for j in response.jobs]

    def cancel_job(self, job_id: str) -> Job:
        return Job.from_proto(self._conn.call(self._conn.stubs.training.CancelJob,
                                              training_pb2.CancelJobRequest(job_id=job_id)))

    def resume_job(self, job_id: str) -> Job:
        """Resumes an INTERRUPTED job (FAILED_PRECONDITION otherwise)."""
        return Job.from_proto(self._conn.call(self._conn.stubs.training.ResumeJob,
                                              training_pb2.ResumeJobRequest(job_id=job_id)))

    def list_models(self, collection: str) -> List[Model]:
        """Model versions, newest first."""
        response = self._conn.call(self._conn.stubs.models.ListModels,
                                   model_pb2.ListModelsRequest(collection=collection))
        return [Model.from_proto(m) for m in response.models]

    def get_model(self, collection: str, version: int) -> Model:
        return Model.from_proto(self._conn.call(
            self._conn.stubs.models.GetModel,
            model_pb2.GetModelRequest(collection=collection, version=version)))

    def promote(self, collection: str, version: int, *, wait: bool = True,
                on_progress: Optional[Callable[[Promotion], None]] = None,
                timeout: Optional[float] = None, poll_interval: float = 0.2) -> Collection:
        """Makes `version` serve the collection (PromoteModel re-encodes every item first).

        wait=True (the default) returns once searches use the new version, calling on_progress
        with the re-encoding's Promotion while it runs; ABORTED if the promotion ends without
        switching, DEADLINE_EXCEEDED after `timeout` seconds. If another version is being
        promoted, this waits for it to finish first. wait=False returns at once (searches keep
        using the previous version until the switch). PromoteModel is idempotent: promoting the
        version being promoted or serving changes nothing, so calling this after
        train(promote=True, wait=False) just waits.
        """
        deadline = None if timeout is None else time.monotonic() + timeout

        def check_deadline(what: str) -> None:
            if deadline is not None and time.monotonic() > deadline:
                raise BottleneckError(grpc.StatusCode.DEADLINE_EXCEEDED,
                                      f"{what} after {timeout} s")

        request = model_pb2.PromoteModelRequest(collection=collection, version=version)
        while True:
            try:
                self._conn.call(self._conn.stubs.models.PromoteModel, request)
                break
            except BottleneckError as error:
                other = self.get_collection(collection).stats.promotion
                if error.code != grpc.StatusCode.FAILED_PRECONDITION or other is None or \
                        other.target_model_version == version:
                    raise
                check_deadline(f"v{other.target_model_version} still being promoted")
                time.sleep(poll_interval)  # Another version is being promoted: wait for it.
        while True:
            c = self.get_collection(collection)
            promotion = c.stats.promotion
            if promotion is None:
                if c.stats.serving_model_version == version:
                    return c
                if not wait:
                    return c
                raise BottleneckError(
                    grpc.StatusCode.ABORTED,
                    f"the promotion of {collection} v{version} ended without switching "
                    f"(v{c.stats.serving_model_version} serves; see the server log)")
            if not wait:
                return c
            if on_progress is not None:
                on_progress(promotion)
            check_deadline(f"{collection} v{version} not serving yet")
            time.sleep(poll_interval)
