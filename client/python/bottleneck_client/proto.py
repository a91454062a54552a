"""The generated v1 message and stub modules, for requests the typed methods do not cover:

    from bottleneck_client.proto import model_pb2
    spec = model_pb2.ModelSpec(dense=model_pb2.DenseAutoencoderSpec(encoder_sizes=[256], ...))
    client.train("c", "train", spec=spec)
"""
from bottleneck_client._proto.bottleneck.v1 import (collection_pb2, collection_pb2_grpc,
                                                    common_pb2, item_pb2, item_pb2_grpc,
                                                    model_pb2, model_pb2_grpc, query_pb2,
                                                    query_pb2_grpc, training_pb2,
                                                    training_pb2_grpc)

__all__ = [
    "collection_pb2", "collection_pb2_grpc", "common_pb2", "item_pb2", "item_pb2_grpc",
    "model_pb2", "model_pb2_grpc", "query_pb2", "query_pb2_grpc", "training_pb2",
    "training_pb2_grpc",
]
