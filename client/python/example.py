#!/usr/bin/python3
"""A minimal Bottleneck client in Python: create a collection, upload a dataset, train a PCA
model, promote it, upsert items and search.

Stubs are generated from proto/ with Debian's protoc and grpc_python_plugin (the build does this
into build/python; see README "Clients in other languages"):

    protoc -Iproto --python_out=OUT --grpc_out=OUT \
        --plugin=protoc-gen-grpc=/usr/bin/grpc_python_plugin proto/bottleneck/v1/*.proto

Usage: PYTHONPATH=build/python /usr/bin/python3 client/python/example.py --server 127.0.0.1:50051
The images are synthetic (made here): 8x8 grey squares of four brightness classes plus noise.
"""
import argparse
import random
import sys
import time

import grpc

from bottleneck.v1 import collection_pb2, collection_pb2_grpc
from bottleneck.v1 import common_pb2
from bottleneck.v1 import item_pb2, item_pb2_grpc
from bottleneck.v1 import model_pb2, model_pb2_grpc
from bottleneck.v1 import query_pb2, query_pb2_grpc
from bottleneck.v1 import training_pb2, training_pb2_grpc


def synthetic_image(label, rng):
    """An 8x8 grey image whose brightness pattern depends on the label."""
    pixels = bytearray()
    for y in range(8):
        for x in range(8):
            base = 40 + 60 * label if (x < 4) == (label % 2 == 0) else 20
            pixels.append(max(0, min(255, base + rng.randint(-15, 15))))
    return common_pb2.Input(image=common_pb2.Image(raw=common_pb2.RawImage(
        height=8, width=8, channels=1, pixel_type=common_pb2.PIXEL_TYPE_UINT8,
        data=bytes(pixels))))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", default="127.0.0.1:50051")
    parser.add_argument("--collection", default="python-example")
    args = parser.parse_args()
    rng = random.Random(7)
    channel = grpc.insecure_channel(args.server)
    collections = collection_pb2_grpc.CollectionServiceStub(channel)
    training = training_pb2_grpc.TrainingServiceStub(channel)
    models = model_pb2_grpc.ModelServiceStub(channel)
    items = item_pb2_grpc.ItemServiceStub(channel)
    query = query_pb2_grpc.QueryServiceStub(channel)

    collections.CreateCollection(collection_pb2.CreateCollectionRequest(
        name=args.collection,
        spec=collection_pb2.CollectionSpec(
            image=common_pb2.ImageGeometry(height=8, width=8, channels=1))))

    def examples():
        batch = [training_pb2.Example(input=synthetic_image(i % 4, rng), label=str(i % 4))
                 for i in range(400)]
        yield training_pb2.UploadDatasetRequest(
            collection=args.collection, dataset="train", examples=batch)
    dataset = training.UploadDataset(examples())
    print(f"uploaded {dataset.example_count} examples")

    job = training.StartTraining(training_pb2.StartTrainingRequest(
        collection=args.collection, dataset="train",
        spec=model_pb2.ModelSpec(pca=model_pb2.PcaSpec(code_size=4)),
        promote_when_done=True))
    for progress in training.WatchJob(training_pb2.WatchJobRequest(job_id=job.id)):
        print(f"  {training_pb2.JobState.Name(progress.state)} {progress.phase}")
    job = training.GetJob(training_pb2.GetJobRequest(job_id=job.id))
    if job.state != training_pb2.JOB_STATE_SUCCEEDED:
        sys.exit(f"training failed: {job.error}")
    while True:
        c = collections.GetCollection(collection_pb2.GetCollectionRequest(name=args.collection))
        if c.stats.serving_model_version == job.model_version:
            break
        time.sleep(0.05)
    print(f"serving model v{job.model_version}")

    upserted = items.Upsert(item_pb2.UpsertRequest(collection=args.collection, items=[
        common_pb2.Item(id=f"img-{i}", input=synthetic_image(i % 4, rng), label=str(i % 4))
        for i in range(100)]))
    print(f"upserted {upserted.upserted} items")

    response = query.Search(query_pb2.SearchRequest(
        collection=args.collection, input=synthetic_image(2, rng), k=5))
    labels = [n.label for n in response.neighbors]
    print("neighbours:", [(n.id, round(n.distance, 3), n.label) for n in response.neighbors])
    if labels.count("2") < 4:
        sys.exit(f"expected mostly label 2, got {labels}")
    # Filtered search (issue 24): only label 3, even though the query looks like label 2.
    label3 = common_pb2.Filter(match=common_pb2.FieldMatch(label=True, values=["3"]))
    response = query.Search(query_pb2.SearchRequest(
        collection=args.collection, input=synthetic_image(2, rng), k=5, filter=label3))
    print("label-3 neighbours:", [n.id for n in response.neighbors])
    if len(response.neighbors) != 5 or any(n.label != "3" for n in response.neighbors):
        sys.exit(f"expected 5 items of label 3, got {response.neighbors}")
    counted = items.CountItems(item_pb2.CountItemsRequest(
        collection=args.collection, filter=label3)).count
    if counted != 25:
        sys.exit(f"expected 25 items of label 3, counted {counted}")
    # Several searches in one round trip, each with its own k and filter.
    batch = query.SearchBatch(query_pb2.SearchBatchRequest(collection=args.collection, searches=[
        query_pb2.SearchRequest(input=synthetic_image(1, rng), k=3),
        query_pb2.SearchRequest(item_id="img-0", k=2, filter=label3)]))
    print("batch:", [[n.id for n in r.neighbors] for r in batch.results])
    if [len(r.neighbors) for r in batch.results] != [3, 2]:
        sys.exit(f"unexpected batch answer {batch}")
    try:
        query.Search(query_pb2.SearchRequest(collection="no-such-collection", item_id="x"))
        sys.exit("expected NOT_FOUND")
    except grpc.RpcError as error:
        assert error.code() == grpc.StatusCode.NOT_FOUND, error
    print("ok")


if __name__ == "__main__":
    main()
