"""What the client returns: plain dataclasses made from the v1 messages.

Enum values become short strings ("float", "l2", "SUCCEEDED"). Each object keeps the message it
came from as `raw` (not compared, not printed) for fields this module does not surface.
"""
from __future__ import annotations

import dataclasses
import datetime
from typing import Any, Dict, List, Optional, Tuple

from bottleneck_client._proto.bottleneck.v1 import (collection_pb2, common_pb2, model_pb2,
                                                    training_pb2)

_RAW = dataclasses.field(default=None, repr=False, compare=False)


def _enum(enum_type: Any, value: int, prefix: str, lower: bool = True) -> str:
    name = enum_type.Name(value)[len(prefix):]
    return name.lower() if lower else name


def _time(timestamp: Any) -> Optional[datetime.datetime]:
    if timestamp.seconds == 0 and timestamp.nanos == 0:
        return None
    return timestamp.ToDatetime().replace(tzinfo=datetime.timezone.utc)


@dataclasses.dataclass
class Promotion:
    """A promotion's re-encoding progress (Collection.stats.promotion)."""
    target_model_version: int
    items_done: int
    items_total: int
    raw: Any = _RAW

    @classmethod
    def from_proto(cls, p: collection_pb2.Promotion) -> "Promotion":
        return cls(p.target_model_version, p.items_done, p.items_total, raw=p)


@dataclasses.dataclass
class CollectionStats:
    item_count: int
    pending_item_count: int
    serving_model_version: int  # 0: no model serves the collection yet.
    model_count: int
    index_bytes: int
    store_bytes: int
    promotion: Optional[Promotion]  # Set while a promotion re-encodes.


@dataclasses.dataclass
class Collection:
    name: str
    kind: str  # "image" or "document"
    image: Optional[Tuple[int, int, int]]  # (height, width, channels) of an image collection
    vocabulary_size: int  # document collections
    allow_raw_text: bool
    code_kind: str  # "float" or "binary"
    distance: str  # "l2", "cosine", "inner_product" or "hamming"
    stats: CollectionStats
    create_time: Optional[datetime.datetime]
    # Metadata keys whose values are numbers: filters may take ranges on them.
    numeric_metadata_keys: List[str] = dataclasses.field(default_factory=list)
    # Metadata keys the server indexes for filters (the label always is).
    indexed_metadata_keys: List[str] = dataclasses.field(default_factory=list)
    raw: Any = _RAW

    @classmethod
    def from_proto(cls, c: collection_pb2.Collection) -> "Collection":
        s, spec = c.stats, c.spec
        image = None
        if spec.HasField("image"):
            image = (spec.image.height, spec.image.width, spec.image.channels)
        stats = CollectionStats(
            s.item_count, s.pending_item_count, s.serving_model_version, s.model_count,
            s.index_bytes, s.store_bytes,
            Promotion.from_proto(s.promotion) if s.HasField("promotion") else None)
        return cls(c.name, "image" if image else "document", image,
                   spec.document.vocabulary_size, spec.document.allow_raw_text,
                   _enum(common_pb2.CodeKind, spec.code_kind, "CODE_KIND_"),
                   _enum(common_pb2.Distance, spec.distance, "DISTANCE_"), stats,
                   _time(c.create_time), list(spec.numeric_metadata_keys),
                   list(spec.indexed_metadata_keys), raw=c)


@dataclasses.dataclass
class Dataset:
    collection: str
    name: str
    example_count: int
    labelled_count: int
    bytes: int
    skipped_count: int
    skipped: List[Tuple[int, str]]  # (example index, reason): the first 10 left out
    vocabulary_word_count: int
    create_time: Optional[datetime.datetime]
    raw: Any = _RAW

    @classmethod
    def from_proto(cls, d: training_pb2.Dataset) -> "Dataset":
        return cls(d.collection, d.name, d.example_count, d.labelled_count, d.bytes,
                   d.skipped_count, [(s.index, s.reason) for s in d.skipped],
                   d.vocabulary_word_count, _time(d.create_time), raw=d)


@dataclasses.dataclass
class JobProgress:
    """One WatchJob update. validation_error and eta_seconds are None when unknown."""
    job_id: str
    state: str  # "QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED", "INTERRUPTED"
    phase: str  # e.g. "PCA baseline", "RBM layer 2/4", "fine-tune", "evaluate"
    phase_index: int
    phase_count: int
    epoch: int
    epochs: int
    step: int
    steps_per_epoch: int
    loss: float
    validation_error: Optional[float]
    samples_per_second: float
    eta_seconds: Optional[float]
    elapsed_seconds: float
    raw: Any = _RAW

    @classmethod
    def from_proto(cls, p: training_pb2.JobProgress) -> "JobProgress":
        return cls(p.job_id, _enum(training_pb2.JobState, p.state, "JOB_STATE_", lower=False),
                   p.phase, p.phase_index, p.phase_count, p.epoch, p.epochs, p.step,
                   p.steps_per_epoch, p.loss,
                   p.validation_error if p.validation_error >= 0 else None,
                   p.samples_per_second, p.eta_seconds if p.eta_seconds >= 0 else None,
                   p.elapsed_seconds, raw=p)


@dataclasses.dataclass
class EpochSummary:
    phase: str
    phase_index: int
    epoch: int
    loss: float
    validation_error: Optional[float]
    elapsed_seconds: float


@dataclasses.dataclass
class Job:
    id: str
    collection: str
    dataset: str
    state: str
    progress: JobProgress
    model_version: int  # set when SUCCEEDED
    error: str  # set when FAILED
    promote_when_done: bool
    description: str
    history: List[EpochSummary]  # one entry per finished epoch of every phase
    create_time: Optional[datetime.datetime]
    end_time: Optional[datetime.datetime]
    raw: Any = _RAW

    @property
    def done(self) -> bool:
        return self.state in ("SUCCEEDED", "FAILED", "CANCELLED", "INTERRUPTED")

    @classmethod
    def from_proto(cls, j: training_pb2.Job) -> "Job":
        history = [EpochSummary(h.phase, h.phase_index, h.epoch, h.loss,
                                h.validation_error if h.validation_error >= 0 else None,
                                h.elapsed_seconds) for h in j.history]
        return cls(j.id, j.collection, j.dataset,
                   _enum(training_pb2.JobState, j.state, "JOB_STATE_", lower=False),
                   JobProgress.from_proto(j.progress), j.model_version, j.error,
                   j.promote_when_done, j.description, history, _time(j.create_time),
                   _time(j.end_time), raw=j)


@dataclasses.dataclass
class EvaluationReport:
    """Validation figures of a model version next to PCA of the same code size."""
    validation_items: int
    reconstruction_error: float
    pca_reconstruction_error: float
    precision_at_10: float
    pca_precision_at_10: float
    training_seconds: float
    validation: str  # "random" or "by_label"
    heldout_labels: List[str]
    heldout_items: int
    heldout_reconstruction_error: float
    heldout_pca_reconstruction_error: float
    epochs_run: int
    best_epoch: int

    @classmethod
    def from_proto(cls, r: model_pb2.EvaluationReport) -> "EvaluationReport":
        return cls(r.validation_items, r.reconstruction_error, r.pca_reconstruction_error,
                   r.precision_at_10, r.pca_precision_at_10, r.training_seconds,
                   _enum(model_pb2.ValidationSplit, r.validation, "VALIDATION_SPLIT_"),
                   list(r.heldout_labels), r.heldout_items, r.heldout_reconstruction_error,
                   r.heldout_pca_reconstruction_error, r.epochs_run, r.best_epoch)


@dataclasses.dataclass
class Model:
    collection: str
    version: int
    job_id: str
    kind: str  # "pca", "lsa", "dense", "conv" or "classifier"
    code_size: int
    parameter_count: int
    report: EvaluationReport
    serving: bool
    create_time: Optional[datetime.datetime]
    spec: Any = dataclasses.field(default=None, repr=False)  # model_pb2.ModelSpec
    # A classifier version: the labels it predicts (Client.classify).
    class_labels: List[str] = dataclasses.field(default_factory=list)
    raw: Any = _RAW

    @classmethod
    def from_proto(cls, m: model_pb2.Model) -> "Model":
        return cls(m.collection, m.version, m.job_id, m.spec.WhichOneof("architecture") or "",
                   m.code_size, m.parameter_count, EvaluationReport.from_proto(m.report),
                   m.serving, _time(m.create_time), spec=m.spec,
                   class_labels=list(m.class_labels), raw=m)


@dataclasses.dataclass
class SearchHit:
    """One neighbour: smaller distances are closer."""
    id: str
    distance: float
    label: str
    metadata: Dict[str, str]


@dataclasses.dataclass
class LabelVote:
    """One label among a search's neighbours (search(label_votes=True)): a k-NN vote."""
    label: str
    count: int  # neighbours with this label
    fraction: float  # count / the number of neighbours returned (unlabelled ones included)


class SearchHits(List[SearchHit]):
    """The neighbours of one search, closest first: a list of SearchHit, plus

    label_votes: with label_votes=True, one LabelVote per distinct label of the neighbours,
    most votes first (ties by label); empty otherwise.
    model_version: the model version whose codes were searched.
    """

    def __init__(self, hits: Any = (), label_votes: Optional[List[LabelVote]] = None,
                 model_version: int = 0):
        super().__init__(hits)
        self.label_votes: List[LabelVote] = label_votes or []
        self.model_version = model_version

    @classmethod
    def from_proto(cls, r: Any) -> "SearchHits":  # query_pb2.SearchResponse
        return cls([SearchHit(n.id, n.distance, n.label, dict(n.metadata)) for n in r.neighbors],
                   [LabelVote(v.label, v.count, v.fraction) for v in r.label_votes],
                   r.model_version)


@dataclasses.dataclass
class LabelProbability:
    """One label of a classification (Client.classify), most probable first."""
    label: str
    probability: float


@dataclasses.dataclass
class UpsertResult:
    upserted: int
    pending: int  # stored but not encoded: no model serves the collection yet
    serving_model_version: int


@dataclasses.dataclass
class Item:
    """A stored item; `code` (with include_code / include_codes) is a float32 or bool array.
    `input` is None from list_items without include_inputs."""
    id: str
    label: str
    metadata: Dict[str, str]
    input: Any = dataclasses.field(repr=False)  # common_pb2.Input, as stored
    code: Any = None
    model_version: int = 0


@dataclasses.dataclass
class WordWeight:
    """One word of a decoded document's distribution."""
    id: int
    word: str  # empty for an id-only vocabulary
    weight: float


@dataclasses.dataclass
class BackupCollection:
    """A collection as stored in a backup."""
    name: str
    item_count: int
    serving_model_version: int  # 0: no model served it.


@dataclasses.dataclass
class Backup:
    """A backup of the whole store (create_backup, list_backups, delete_backup). `path` is on
    the server's filesystem: restore it there with `bottleneckd --restore PATH --data-dir DIR`."""
    name: str
    path: str
    create_time: Optional[datetime.datetime]
    store_sequence: int  # Every write acknowledged before create_backup has this one or lower.
    collections: List[BackupCollection]
    aliases: Dict[str, str]  # alias -> collection, as stored in the backup
    size_bytes: int
    index_snapshots: int
    node: str = ""  # Cluster mode: the node whose --backup-dir holds it (path is on that node)
    raw: Any = _RAW

    @classmethod
    def from_proto(cls, b: collection_pb2.Backup) -> "Backup":
        return cls(b.name, b.path, _time(b.create_time), b.store_sequence,
                   [BackupCollection(c.name, c.item_count, c.serving_model_version)
                    for c in b.collections],
                   {a.name: a.collection for a in b.aliases}, b.size_bytes, b.index_snapshots,
                   node=b.node, raw=b)


@dataclasses.dataclass
class Alias:
    """A second name of a collection (create_alias, switch_alias, list_aliases)."""
    name: str
    collection: str
