"""bottleneck_client: the Python client of the Bottleneck retrieval service.

    from bottleneck_client import Client
    client = Client("127.0.0.1:50051")

See client/python/README.md for a quick start and Client's methods for the API.
"""
from bottleneck_client.client import Client
from bottleneck_client.errors import BottleneckError, RetryPolicy
from bottleneck_client.types import (Collection, CollectionStats, Dataset, EpochSummary,
                                     EvaluationReport, Item, Job, JobProgress, Model, Promotion,
                                     SearchHit, UpsertResult, WordWeight)

__version__ = "0.1.0"
__all__ = [
    "BottleneckError", "Client", "Collection", "CollectionStats", "Dataset", "EpochSummary",
    "EvaluationReport", "Item", "Job", "JobProgress", "Model", "Promotion", "RetryPolicy",
    "SearchHit", "UpsertResult", "WordWeight",
]
