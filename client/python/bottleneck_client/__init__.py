"""bottleneck_client: the Python client of the Bottleneck retrieval service.

    from bottleneck_client import Client, F
    client = Client("127.0.0.1:50051")
    client.search("shoes", image=img, k=10, filter=(F.label == "sneaker") & (F.meta("price") < 50))

See client/python/README.md for a quick start, Client's methods for the API and
bottleneck_client.filters for filters.
"""
from bottleneck_client.client import Client
from bottleneck_client.errors import BottleneckError, RetryPolicy
from bottleneck_client.filters import F, Field, Filter
from bottleneck_client.types import (Alias, Backup, BackupCollection, Collection,
                                     CollectionStats, Dataset, EpochSummary,
                                     EvaluationReport, Item, Job, JobProgress, LabelProbability,
                                     LabelVote, Model, Promotion, SearchHit, SearchHits,
                                     UpsertResult, WordWeight)

__version__ = "0.2.0"
__all__ = [
    "Alias", "Backup", "BackupCollection", "BottleneckError", "Client", "Collection",
    "CollectionStats", "Dataset", "EpochSummary", "EvaluationReport", "F", "Field", "Filter", "Item", "Job", "JobProgress",
    "LabelProbability", "LabelVote", "Model", "Promotion", "RetryPolicy", "SearchHit",
    "SearchHits", "UpsertResult", "WordWeight",
]
