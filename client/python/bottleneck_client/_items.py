"""Client methods of ItemService's reads and deletes: get_item, list_items, count_items,
delete_items (upserts are in client.py)."""
from __future__ import annotations

from typing import Iterator, Optional, Sequence

from bottleneck_client import _inputs
from bottleneck_client._base import Connection
from bottleneck_client._proto.bottleneck.v1 import item_pb2
from bottleneck_client.errors import invalid
from bottleneck_client.filters import FilterLike, to_filter
from bottleneck_client.types import Item

_MAX_PAGE_SIZE = 1000  # ListItemsRequest.page_size's bound.


class ItemsMixin:
    _conn: Connection

    def get_item(self, collection: str, item_id: str, *, include_code: bool = False) -> Item:
        response = self._conn.call(self._conn.stubs.items.GetItem, item_pb2.GetItemRequest(
            collection=collection, id=item_id, include_code=include_code))
        code = None
        if response.HasField("code"):
            code = _inputs.code_array([response.code])[0]
        item = response.item
        return Item(item.id, item.label, dict(item.metadata), item.input, code,
                    response.model_version)

    def delete_items(self, collection: str, ids: Optional[Sequence[str]] = None, *,
                     filter: Optional[FilterLike] = None) -> int:
        """Deletes items by ids, or every item matching `filter` (an F expression, a dict, a
        CLI-syntax string or a bottleneck.v1.Filter; give one of ids and filter). Returns how
        many items were deleted (ids: how many of them existed). A delete by filter holds the
        collection's writes while it runs."""
        if (ids is None) == (filter is None):
            raise invalid("delete_items: give ids or filter (one of them)")
        request = item_pb2.DeleteItemsRequest(collection=collection)
        if ids is not None:
            if isinstance(ids, str):
                raise invalid("delete_items: ids is a list of item ids")
            request.ids.extend(str(i) for i in ids)
        else:
            request.filter.CopyFrom(to_filter(filter))
        return self._conn.call(self._conn.stubs.items.DeleteItems, request).deleted

    def list_items(self, collection: str, *, filter: Optional[FilterLike] = None,
                   page_size: int = 100, include_inputs: bool = False,
                   include_codes: bool = False) -> Iterator[Item]:
        """Every item of the collection (or every item matching `filter`), in id order, as a
        generator that fetches pages of page_size (1..1000) items as it is consumed (ListItems,
        following next_page_token; each page a call with the client's deadline and retries).

        Items have id, label and metadata; their input with include_inputs, their code for
        the serving model with include_codes (Item.code is None for items not encoded yet;
        Item.model_version is the codes' version). Consistency, as the server guarantees it:
        an item that exists and matches during the whole listing is yielded exactly once; one
        upserted, changed or deleted meanwhile may or may not be. Errors (an unknown
        collection, a bad filter) raise when the first page is fetched, i.e. at the first
        next()."""
        if not 1 <= page_size <= _MAX_PAGE_SIZE:
            raise invalid(f"list_items: page_size must be in 1..{_MAX_PAGE_SIZE}")
        request = item_pb2.ListItemsRequest(collection=collection, page_size=page_size,
                                            include_inputs=include_inputs,
                                            include_codes=include_codes)
        if filter is not None:
            request.filter.CopyFrom(to_filter(filter))
        return self._pages(request)

    def _pages(self, request: item_pb2.ListItemsRequest) -> Iterator[Item]:
        while True:
            response = self._conn.call(self._conn.stubs.items.ListItems, request)
            for listed in response.items:
                item = listed.item
                code = _inputs.code_array([listed.code])[0] if listed.HasField("code") else None
                yield Item(item.id, item.label, dict(item.metadata),
                           item.input if item.HasField("input") else None, code,
                           response.model_version)
            if not response.next_page_token:
                return
            request.page_token = response.next_page_token

    def count_items(self, collection: str, filter: Optional[FilterLike] = None) -> int:
        """How many items the collection holds, or how many match `filter` (items not encoded
        yet included)."""
        request = item_pb2.CountItemsRequest(collection=collection)
        if filter is not None:
            request.filter.CopyFrom(to_filter(filter))
        return self._conn.call(self._conn.stubs.items.CountItems, request).count
