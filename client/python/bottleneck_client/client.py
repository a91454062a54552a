"""Client: the typed API over the v1 services."""
from __future__ import annotations

import itertools
import os
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np

from bottleneck_client import _inputs
from bottleneck_client._base import Connection
from bottleneck_client._png import decode_png
from bottleneck_client._proto.bottleneck.v1 import (collection_pb2, common_pb2, item_pb2,
                                                    query_pb2, training_pb2)
from bottleneck_client._admin import AdminMixin
from bottleneck_client._items import ItemsMixin
from bottleneck_client._queries import QueryMixin
from bottleneck_client._training import TrainingMixin
from bottleneck_client.errors import RetryPolicy, invalid
from bottleneck_client.types import Collection, Dataset, UpsertResult, WordWeight

_DISTANCES = {"l2": common_pb2.DISTANCE_L2, "cosine": common_pb2.DISTANCE_COSINE,
              "inner_product": common_pb2.DISTANCE_INNER_PRODUCT, "ip":
              common_pb2.DISTANCE_INNER_PRODUCT, "hamming": common_pb2.DISTANCE_HAMMING}
_MAX_BATCH = 1024  # Inputs per Encode, codes per Decode (the server's limit).


def _strict_zip(what: str, *sequences: Any) -> Iterator[Tuple[Any, ...]]:
    """zip() that refuses sequences of different lengths (INVALID_ARGUMENT, nothing sent)."""
    sentinel = object()
    for values in itertools.zip_longest(*sequences, fillvalue=sentinel):
        if any(v is sentinel for v in values):
            raise invalid(f"{what}: the inputs, ids, labels and metadata differ in length")
        yield values


class Client(ItemsMixin, QueryMixin, TrainingMixin, AdminMixin):
    """A connection to bottleneckd and the v1 API as Python methods.

    address: "HOST:PORT" of the server (its --listen; with --training-listen, the training and
    item methods need that address). token: a bearer token (--admin-token-file or
    --query-token-file of the server). tls_ca: a PEM file (or its bytes) to trust for TLS;
    tls=True uses TLS with the system's roots. timeout: seconds per unary call (None: no
    deadline; streams have none). retry: which refusals are retried and how (RetryPolicy;
    RetryPolicy(max_attempts=1) turns retries off). chunk_size: examples or items per streamed
    message (messages also stay under about 4 MiB).

    Every failure raises BottleneckError with the gRPC code and message.
    """

    def __init__(self, address: str = "127.0.0.1:50051", *, token: Optional[str] = None,
                 tls_ca: Union[str, os.PathLike, bytes, None] = None, tls: bool = False,
                 timeout: Optional[float] = 30.0, retry: Optional[RetryPolicy] = None,
                 chunk_size: int = 512, channel_options: Optional[list] = None):
        if chunk_size < 1:
            raise invalid("chunk_size must be >= 1")
        self._conn = Connection(address, token=token, tls_ca=tls_ca, tls=tls, timeout=timeout,
                                retry=retry, options=channel_options)
        self.chunk_size = chunk_size
        self.max_message_bytes = 4 << 20

    @property
    def stubs(self):
        """The generated stubs (collections, training, models, items, query) on this channel."""
        return self._conn.stubs

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def health(self, service: str = "") -> str:
        """The gRPC health check: "SERVING" when the server serves."""
        return self._conn.health(service)

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Waits until the server is SERVING (DEADLINE_EXCEEDED after timeout seconds)."""
        self._conn.wait_ready(timeout)

    # ---- collections

    def create_collection(self, name: str, *, image: Optional[Sequence[int]] = None,
                          vocabulary_size: Optional[int] = None,
                          vocabulary: Optional[Sequence[str]] = None,
                          allow_raw_text: bool = False, binary: bool = False,
                          distance: Optional[str] = None, m: int = 0, ef_construction: int = 0,
                          ef_search: int = 0,
                          numeric_metadata_keys: Sequence[str] = (),
                          indexed_metadata_keys: Sequence[str] = ()) -> Collection:
        """An image collection (image=(height, width, channels)) or a document collection
        (vocabulary_size=V and/or vocabulary=[words], allow_raw_text for text inputs).
        binary=True: binary codes searched by Hamming distance. distance: "l2", "cosine",
        "inner_product" or "hamming". m, ef_construction, ef_search: HNSW (0: defaults).
        numeric_metadata_keys: metadata keys whose values are numbers, so that filters may
        take ranges on them (F.meta("price") < 50); upserts check their values.
        indexed_metadata_keys: metadata keys the server indexes (value -> items; the label
        always is), so that selective equality / isin filters on them are fast (and
        ranges on those also in numeric_metadata_keys)."""
        spec = collection_pb2.CollectionSpec()
        if image is not None:
            if vocabulary_size is not None or vocabulary is not None:
                raise invalid("a collection holds images or documents, not both")
            if len(image) != 3:
                raise invalid("image=(height, width, channels)")
            spec.image.height, spec.image.width, spec.image.channels = (int(v) for v in image)
        elif vocabulary_size is not None or vocabulary is not None:
            spec.document.vocabulary_size = int(vocabulary_size or 0)
            spec.document.allow_raw_text = allow_raw_text
            spec.document.vocabulary_words.extend(vocabulary or [])
        else:
            raise invalid("give image=(h, w, c) or vocabulary_size / vocabulary")
        if binary:
            spec.code_kind = common_pb2.CODE_KIND_BINARY
        if distance is not None:
            if distance not in _DISTANCES:
                raise invalid(f"distance: one of {', '.join(_DISTANCES)}")
            spec.distance = _DISTANCES[distance]
        spec.index.m, spec.index.ef_construction, spec.index.ef_search = m, ef_construction, \
            ef_search
        if isinstance(numeric_metadata_keys, str):
            raise invalid("numeric_metadata_keys is a list of keys")
        spec.numeric_metadata_keys.extend(numeric_metadata_keys)
        if isinstance(indexed_metadata_keys, str):
            raise invalid("indexed_metadata_keys is a list of keys")
        spec.indexed_metadata_keys.extend(indexed_metadata_keys)
        request = collection_pb2.CreateCollectionRequest(name=name, spec=spec)
        return Collection.from_proto(self._conn.call(self.stubs.collections.CreateCollection,
                                                     request))

    def get_collection(self, name: str) -> Collection:
        return Collection.from_proto(self._conn.call(
            self.stubs.collections.GetCollection, collection_pb2.GetCollectionRequest(name=name)))

    def list_collections(self) -> List[Collection]:
        response = self._conn.call(self.stubs.collections.ListCollections,
                                   collection_pb2.ListCollectionsRequest())
        return [Collection.from_proto(c) for c in response.collections]

    def delete_collection(self, name: str) -> None:
        """Deletes the collection with its items, datasets, jobs and models."""
        self._conn.call(self.stubs.collections.DeleteCollection,
                        collection_pb2.DeleteCollectionRequest(name=name))

    # ---- datasets

    def upload_dataset(self, collection: str, name: str, *, images: Any = None,
                       texts: Any = None, word_ids: Any = None, docs: Any = None,
                       labels: Optional[Sequence[Any]] = None,
                       vocabulary: Optional[Sequence[str]] = None, skip_invalid: bool = False,
                       chunk_size: Optional[int] = None) -> Dataset:
        """Uploads a training dataset, streamed in chunks; it appears when complete (a failed
        upload leaves nothing). One source: images (an NxHxW[xC] uint8 or float array, or a
        list of paths, PNG/JPEG bytes, arrays or PIL images), texts (strings), word_ids (a
        scipy.sparse matrix of counts, or a list of {id: count} / (ids, counts) / id lists) or
        docs (a mix of document forms). labels: one per example. vocabulary: the word of each
        id for models trained on it. skip_invalid: leave out examples that fail validation
        (reported in Dataset.skipped) instead of failing the upload."""
        size = chunk_size or self.chunk_size

        def requests() -> Iterator[training_pb2.UploadDatasetRequest]:
            examples = self._examples(images, texts, word_ids, docs, labels)
            first = True
            for batch in _inputs.chunks(examples, size, self.max_message_bytes):
                yield training_pb2.UploadDatasetRequest(
                    collection=collection, dataset=name, examples=batch,
                    skip_invalid=skip_invalid,
                    vocabulary_words=list(vocabulary or []) if first else [])
                first = False
            if first:
                raise invalid("upload_dataset: no examples")

        return Dataset.from_proto(self._conn.stream_call(self.stubs.training.UploadDataset,
                                                         requests))

    @staticmethod
    def _examples(images: Any, texts: Any, word_ids: Any, docs: Any,
                  labels: Optional[Sequence[Any]]) -> Iterator[training_pb2.Example]:
        inputs = _inputs.inputs_of(images, texts, word_ids, docs)
        if labels is None:
            for i in inputs:
                yield training_pb2.Example(input=i)
            return
        for i, label in _strict_zip("upload_dataset", inputs, _inputs.labels_of(labels)):
            yield training_pb2.Example(input=i, label=label)

    def get_dataset(self, collection: str, name: str) -> Dataset:
        return Dataset.from_proto(self._conn.call(
            self.stubs.training.GetDataset,
            training_pb2.GetDatasetRequest(collection=collection, dataset=name)))

    def list_datasets(self, collection: str) -> List[Dataset]:
        response = self._conn.call(self.stubs.training.ListDatasets,
                                   training_pb2.ListDatasetsRequest(collection=collection))
        return [Dataset.from_proto(d) for d in response.datasets]

    def delete_dataset(self, collection: str, name: str) -> None:
        self._conn.call(self.stubs.training.DeleteDataset,
                        training_pb2.DeleteDatasetRequest(collection=collection, dataset=name))

    # ---- items

    def upsert(self, collection: str, ids: Sequence[str], *, images: Any = None,
               docs: Any = None, texts: Any = None, word_ids: Any = None,
               labels: Optional[Sequence[Any]] = None,
               metadata: Optional[Sequence[Dict[str, str]]] = None,
               chunk_size: Optional[int] = None) -> UpsertResult:
        """Inserts or replaces items (StreamUpsert, in chunks): ids[i] gets input i (images, or
        documents as for upload_dataset), labels[i] and metadata[i] (a dict of strings). Each
        chunk is durable and searchable when acknowledged; on an error the chunks before it
        stay written (upserting again is safe: items are replaced by id)."""
        if isinstance(ids, str):
            raise invalid("upsert: ids is a list of item ids")
        size = chunk_size or self.chunk_size

        def items() -> Iterator[common_pb2.Item]:
            columns = [ids, _inputs.inputs_of(images, texts, word_ids, docs)]
            if labels is not None:
                columns.append(_inputs.labels_of(labels))
            if metadata is not None:
                columns.append(metadata)
            for row in _strict_zip("upsert", *columns):
                item = common_pb2.Item(id=str(row[0]), input=row[1],
                                       label=row[2] if labels is not None else "")
                meta = row[-1] if metadata is not None else None
                if meta:
                    item.metadata.update({str(k): str(v) for k, v in meta.items()})
                yield item

        def requests() -> Iterator[item_pb2.UpsertRequest]:
            sent = False
            for batch in _inputs.chunks(items(), size, self.max_message_bytes):
                yield item_pb2.UpsertRequest(collection=collection, items=batch)
                sent = True
            if not sent:
                raise invalid("upsert: no items")

        response = self._conn.stream_call(self.stubs.items.StreamUpsert, requests)
        return UpsertResult(response.upserted, response.pending, response.serving_model_version)

    # ---- queries

    def encode(self, collection: str, *, images: Any = None, texts: Any = None,
               word_ids: Any = None, docs: Any = None, image: Any = None, text: Any = None,
               model_version: int = 0) -> np.ndarray:
        """Codes of inputs with the serving model (or model_version): an NxK float32 array, or
        an NxK bool array for binary codes. image= or text= (one input) gives one 1-D code.
        Batches of more than 1024 inputs are sent in several calls."""
        if image is not None or text is not None:
            if any(v is not None for v in (images, texts, word_ids, docs)) or \
                    (image is not None and text is not None):
                raise invalid("encode: give image=/text= alone, or a batch")
            inputs = iter([_inputs.query_input(image, text)])
            single = True
        else:
            inputs, single = _inputs.inputs_of(images, texts, word_ids, docs, "encode"), False
        codes: List[common_pb2.Code] = []
        for batch in _inputs.chunks(inputs, _MAX_BATCH, self.max_message_bytes):
            response = self._conn.call(self.stubs.query.Encode, query_pb2.EncodeRequest(
                collection=collection, inputs=batch, model_version=model_version))
            codes.extend(response.codes)
        if not codes:
            raise invalid("encode: no inputs")
        array = _inputs.code_array(codes)
        return array[0] if single else array

    def decode(self, collection: str, codes: Any, *, model_version: int = 0,
               top_words: int = 0) -> Union[np.ndarray, List[Any]]:
        """The decoder's outputs for codes (a 1-D code or an NxK array; bool for binary codes).
        Image collections: a uint8 array, NxHxW for grey or NxHxWx3 for colour (HxW[x3] for
        one code). Document collections: for each code a list of WordWeight, highest first
        (top_words of them, 0: the server's 20)."""
        single = np.ndim(codes) == 1
        messages = _inputs.code_messages(codes)
        outputs: List[query_pb2.Output] = []
        for start in range(0, len(messages), _MAX_BATCH):
            response = self._conn.call(self.stubs.query.Decode, query_pb2.DecodeRequest(
                collection=collection, codes=messages[start:start + _MAX_BATCH],
                model_version=model_version, top_words=top_words))
            outputs.extend(response.outputs)
        if outputs and outputs[0].HasField("words"):
            words = [[WordWeight(w.id, w.word, w.weight) for w in o.words.words]
                     for o in outputs]
            return words[0] if single else words
        images = np.stack([decode_png(o.image.encoded) for o in outputs])
        if images.shape[-1] == 1:
            images = images[..., 0]
        return images[0] if single else images
