"""Client methods of QueryService's searches and classifications: search, search_batch,
classify (encode and decode are in client.py)."""
from __future__ import annotations

from typing import Any, Iterator, List, Mapping, Optional, Sequence, Union

from bottleneck_client import _inputs
from bottleneck_client._base import Connection
from bottleneck_client._proto.bottleneck.v1 import query_pb2
from bottleneck_client.errors import invalid
from bottleneck_client.filters import FilterLike, to_filter
from bottleneck_client.types import LabelProbability, SearchHits

_MAX_BATCH = 1024  # Searches per SearchBatch, inputs per Classify (the server's limits).
_QUERY_KINDS = ("image", "text", "doc", "code", "item_id")
_QUERY_OPTIONS = ("k", "ef", "exact", "filter", "label_votes")


def _search_request(collection: str, query: Mapping[str, Any], what: str, *, k: int, ef: int,
                    exact: bool, filter: Optional[FilterLike],
                    label_votes: bool) -> query_pb2.SearchRequest:
    """One SearchRequest from {image|text|doc|code|item_id: ..., k, ef, exact, filter,
    label_votes} (missing options: the keyword arguments)."""
    unknown = set(query) - set(_QUERY_KINDS) - set(_QUERY_OPTIONS)
    if unknown:
        raise invalid(f"{what}: unknown keys {', '.join(sorted(unknown))} (a query has one of "
                      f"{', '.join(_QUERY_KINDS)} and optionally {', '.join(_QUERY_OPTIONS)})")
    given = [n for n in _QUERY_KINDS if query.get(n) is not None]
    if len(given) != 1:
        raise invalid(f"{what}: give exactly one of image, text, doc, code or item_id")
    request = _options(query_pb2.SearchRequest(collection=collection), query, k=k, ef=ef,
                       exact=exact, filter=filter, label_votes=label_votes)
    kind = given[0]
    if kind == "item_id":
        request.item_id = str(query["item_id"])
    elif kind == "code":
        codes = _inputs.code_messages(query["code"])
        if len(codes) != 1:
            raise invalid(f"{what}: code is one code (a 1-D array)")
        request.code.CopyFrom(codes[0])
    else:
        request.input.CopyFrom(_inputs.query_input(query.get("image"), query.get("text"),
                                                   query.get("doc")))
    return request


def _options(request: query_pb2.SearchRequest, query: Mapping[str, Any], *, k: int, ef: int,
             exact: bool, filter: Optional[FilterLike],
             label_votes: bool) -> query_pb2.SearchRequest:
    """Sets k, ef, exact, label_votes and filter: the query's own, else the arguments."""
    request.k = query.get("k", k)
    request.ef = query.get("ef", ef)
    request.exact = query.get("exact", exact)
    request.label_votes = query.get("label_votes", label_votes)
    f = query.get("filter", filter)
    if f is not None:
        request.filter.CopyFrom(to_filter(f))
    return request


class QueryMixin:
    _conn: Connection
    max_message_bytes: int

    def search(self, collection: str, *, image: Any = None, text: Any = None, doc: Any = None,
               code: Any = None, item_id: Optional[str] = None, k: int = 10, ef: int = 0,
               exact: bool = False, filter: Optional[FilterLike] = None,
               label_votes: bool = False) -> SearchHits:
        """The k nearest items, closest first, to one query: an image (as image_input takes),
        a text, a document (doc: counts by id or word), a code (a float or bool array) or a
        stored item's id (the item itself is left out).

        filter: only items matching it are returned (an F expression, a dict, a CLI-syntax
        string or a bottleneck.v1.Filter; see bottleneck_client.filters). The server applies
        it during the index walk, so k hits come back whenever k items match.
        label_votes: also count the neighbours' labels (SearchHits.label_votes, a k-NN vote).

        Returns SearchHits: a list of SearchHit(id, distance, label, metadata) with
        .label_votes and .model_version."""
        query = {"image": image, "text": text, "doc": doc, "code": code, "item_id": item_id}
        request = _search_request(collection, query, "search", k=k, ef=ef, exact=exact,
                                  filter=filter, label_votes=label_votes)
        return SearchHits.from_proto(self._conn.call(self._conn.stubs.query.Search, request))

    def search_batch(self, collection: str,
                     queries: Optional[Sequence[Mapping[str, Any]]] = None, *,
                     images: Any = None, texts: Any = None, docs: Any = None,
                     codes: Any = None, item_ids: Optional[Sequence[str]] = None,
                     k: int = 10, ef: int = 0, exact: bool = False,
                     filter: Optional[FilterLike] = None,
                     label_votes: bool = False) -> List[SearchHits]:
        """Many searches of one collection in few round trips (SearchBatch); results[i]
        answers query i. The input queries of a call share one encoder call on the server.

        The queries are either `queries`, a list of dicts each holding one of image, text, doc,
        code or item_id and optionally its own k, ef, exact, filter and label_votes, or one
        of images (an NxHxW[xC] array or a list of images), texts, docs, codes (an NxK array)
        or item_ids. k, ef, exact, filter and label_votes apply to every query that does not
        set its own. More than 1024 queries are sent in several calls. The server validates a
        call whole: one bad query fails it with INVALID_ARGUMENT naming searches[i]."""
        sources = [n for n, v in (("queries", queries), ("images", images), ("texts", texts),
                                  ("docs", docs), ("codes", codes), ("item_ids", item_ids))
                   if v is not None]
        if len(sources) != 1:
            raise invalid("search_batch: give exactly one of queries, images, texts, docs, "
                          "codes or item_ids")
        shared = dict(k=k, ef=ef, exact=exact, filter=filter, label_votes=label_votes)
        if isinstance(queries, Mapping) or isinstance(item_ids, str):
            raise invalid("search_batch: give a list of queries")

        def requests() -> Iterator[query_pb2.SearchRequest]:
            if queries is not None:
                for i, q in enumerate(queries):
                    if not isinstance(q, Mapping):
                        raise invalid(f"search_batch: queries[{i}] is a dict, got "
                                      f"{type(q).__name__}")
                    yield _search_request("", q, f"search_batch: queries[{i}]", **shared)
            elif item_ids is not None:
                for i in item_ids:
                    yield _search_request("", {"item_id": i}, "search_batch", **shared)
            elif codes is not None:
                for c in _inputs.code_messages(codes):
                    yield _options(query_pb2.SearchRequest(code=c), {}, **shared)
            else:
                for i in _inputs.inputs_of(images, texts, None, docs, "search_batch"):
                    yield _options(query_pb2.SearchRequest(input=i), {}, **shared)

        all_requests = list(requests())  # every query checked before anything is sent
        if not all_requests:
            raise invalid("search_batch: no queries")
        results: List[SearchHits] = []
        for batch in _inputs.chunks(all_requests, _MAX_BATCH, self.max_message_bytes):
            response = self._conn.call(self._conn.stubs.query.SearchBatch,
                                       query_pb2.SearchBatchRequest(collection=collection,
                                                                    searches=batch))
            results.extend(SearchHits.from_proto(r) for r in response.results)
        return results

    def classify(self, collection: str, *, images: Any = None, texts: Any = None,
                 word_ids: Any = None, docs: Any = None, image: Any = None, text: Any = None,
                 k: int = 5, model_version: int = 0
                 ) -> Union[List[LabelProbability], List[List[LabelProbability]]]:
        """The k most probable labels of inputs with a classifier version of the collection
        (train(..., classifier=...)); model_version 0: its newest classifier version. For a
        batch, one list of LabelProbability(label, probability) per input, most probable first;
        image= or text= (one input) gives one list. FAILED_PRECONDITION when the collection has
        no classifier version. Batches above 1024 inputs are sent in several calls."""
        if image is not None or text is not None:
            if any(v is not None for v in (images, texts, word_ids, docs)) or \
                    (image is not None and text is not None):
                raise invalid("classify: give image=/text= alone, or a batch")
            inputs = iter([_inputs.query_input(image, text)])
            single = True
        else:
            inputs, single = _inputs.inputs_of(images, texts, word_ids, docs, "classify"), False
        results: List[List[LabelProbability]] = []
        for batch in _inputs.chunks(inputs, _MAX_BATCH, self.max_message_bytes):
            response = self._conn.call(self._conn.stubs.query.Classify, query_pb2.ClassifyRequest(
                collection=collection, inputs=batch, model_version=model_version, k=k))
            results.extend([LabelProbability(p.label, p.probability) for p in c.labels]
                           for c in response.classifications)
        if not results:
            raise invalid("classify: no inputs")
        return results[0] if single else results
