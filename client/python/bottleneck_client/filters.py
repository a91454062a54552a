"""Filters over items' labels and metadata (search, search_batch, list_items, count_items,
delete_items): the server's bottleneck.v1.Filter, built four ways.

1. The builder `F` (Python operators; comparisons go in parentheses when combined, since `&`
   and `|` bind tighter than `==` and `<` in Python):

       from bottleneck_client import F
       F.label == "sneaker"                        # the item's label equals a value
       F.label.in_(["sneaker", "boot"])            # ... one of several values
       F.meta("brand") != "acme"                   # a metadata key (items without it match)
       F.meta("brand").not_in(["acme", "zeta"])
       F.meta("price") < 50                        # a range: the key must be declared in
       F.meta("price").between(10, 50)             #   create_collection(numeric_metadata_keys=)
       (F.label == "boot") & (F.meta("price") < 50)    # AND
       (F.label == "boot") | ~(F.meta("price") >= 9)   # OR, NOT

   Values are compared as strings (metadata is stored as strings; upsert stores str(value), so
   F.meta("n") == 5 matches metadata {"n": 5}); range bounds are numbers. F.meta("label") is a
   metadata key named "label". Using `and`, `or`, `not` or `if` on a filter raises TypeError
   (they cannot be overloaded; use `&`, `|`, `~`).

2. A dict, Mongo-style (several keys: AND):

       {"label": "sneaker"}                    # equality; "label" is the item's label
       {"label": ["sneaker", "boot"]}          # in
       {"price": {"gte": 10, "lt": 50}}        # range (gt, gte, lt, lte)
       {"brand": {"ne": "acme"}}               # also "eq", "in", "not_in"
       {"$or": [{...}, {...}], "$not": {...}, "$and": [...]}
       {"meta:label": "x"}                     # the metadata key "label" (as in the CLI)

3. A string in the CLI's syntax (`bottleneck search --filter`), e.g.
   `label=sneaker,boot & price<50 & !brand=acme` (`|`, parentheses, "quoted values").

4. A bottleneck.v1.Filter message (bottleneck_client.proto.common_pb2.Filter), sent as is.

The server validates the rest (declared numeric keys, at most 8 levels of nesting, 256 nodes,
1024 values per match, 64 filters per AND/OR) and answers INVALID_ARGUMENT naming the bad node.
"""
from __future__ import annotations

import math
from typing import Any, Iterable, List, Mapping, Optional, Union

from bottleneck_client._proto.bottleneck.v1 import common_pb2
from bottleneck_client.errors import invalid

__all__ = ["F", "Field", "Filter", "FilterLike", "to_filter"]


def _value(v: Any) -> str:
    if isinstance(v, (bytes, bytearray)):
        return bytes(v).decode("utf-8")
    return str(v)


def _values(values: Any, what: str) -> List[str]:
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise invalid(f"{what}: give a list of values")
    out = [_value(v) for v in values]
    if not out:
        raise invalid(f"{what}: give at least one value")
    return out


def _number(v: Any, what: str) -> float:
    if isinstance(v, bool):
        raise invalid(f"{what}: a range bound is a number, got {v!r}")
    try:
        number = float(v)
    except (TypeError, ValueError):
        raise invalid(f"{what}: a range bound is a number, got {v!r}") from None
    if not math.isfinite(number):
        raise invalid(f"{what}: range bounds are finite, got {v!r}")
    return number


class Filter:
    """A filter (wraps a bottleneck.v1.Filter). Combine with & (AND), | (OR) and ~ (NOT)."""

    __slots__ = ("proto",)

    def __init__(self, proto: common_pb2.Filter):
        self.proto = proto

    def __and__(self, other: Any) -> "Filter":
        return self._combine(other, "all_of", "&")

    def __rand__(self, other: Any) -> "Filter":
        return _as_filter(other, "&")._combine(self, "all_of", "&")

    def __or__(self, other: Any) -> "Filter":
        return self._combine(other, "any_of", "|")

    def __ror__(self, other: Any) -> "Filter":
        return _as_filter(other, "|")._combine(self, "any_of", "|")

    def __invert__(self) -> "Filter":
        if self.proto.WhichOneof("kind") == "none_of":  # ~~f is f
            return Filter(_copy(self.proto.none_of))
        result = common_pb2.Filter()
        result.none_of.CopyFrom(self.proto)
        return Filter(result)

    def __bool__(self) -> bool:
        raise TypeError("a Filter has no truth value: combine filters with &, | and ~ (not "
                        "and, or, not), and put comparisons in parentheses")

    def _combine(self, other: Any, kind: str, op: str) -> "Filter":
        other = _as_filter(other, op)
        result = common_pb2.Filter()
        target = getattr(result, kind)
        for part in (self.proto, other.proto):  # (a & b) & c becomes one all_of of three
            if part.WhichOneof("kind") == kind:
                target.filters.extend(getattr(part, kind).filters)
            else:
                target.filters.add().CopyFrom(part)
        return Filter(result)

    def __eq__(self, other: Any) -> bool:  # type: ignore[override]
        return isinstance(other, Filter) and self.proto == other.proto

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Filter({_describe(self.proto)})"


def _copy(proto: common_pb2.Filter) -> common_pb2.Filter:
    result = common_pb2.Filter()
    result.CopyFrom(proto)
    return result


def _as_filter(value: Any, op: str) -> Filter:
    if isinstance(value, Filter):
        return value
    if isinstance(value, Field):
        raise TypeError(f"'{op}' with a field: put comparisons in parentheses, e.g. "
                        f"(F.label == 'a') {op} (F.meta('price') < 50)")
    if isinstance(value, (dict, common_pb2.Filter)):
        return Filter(to_filter(value))
    raise TypeError(f"cannot combine a Filter with {type(value).__name__}")


def _describe_match(m: common_pb2.FieldMatch, negated: bool) -> str:
    field = "label" if m.label else f"meta({m.metadata_key!r})"
    values = list(m.values)
    if len(values) == 1:
        return f"{field} {'!=' if negated else '=='} {values[0]!r}"
    return f"{field} {'not in' if negated else 'in'} {values!r}"


def _describe(f: common_pb2.Filter) -> str:
    kind = f.WhichOneof("kind")
    if kind == "match":
        return _describe_match(f.match, False)
    if kind == "range":
        r = f.range
        parts = [f"{op} {getattr(r, name):g}" for name, op in
                 (("gte", ">="), ("gt", ">"), ("lte", "<="), ("lt", "<")) if r.HasField(name)]
        return f"meta({r.metadata_key!r}) " + " and ".join(parts)
    if kind in ("all_of", "any_of"):
        joiner = " & " if kind == "all_of" else " | "
        return "(" + joiner.join(_describe(c) for c in getattr(f, kind).filters) + ")"
    if kind == "none_of":
        if f.none_of.WhichOneof("kind") == "match":
            return _describe_match(f.none_of.match, True)
        return "~" + _describe(f.none_of)
    return "<empty>"


class Field:
    """A field filters compare: F.label (the item's label) or F.meta(key) (a metadata key)."""

    __slots__ = ("label", "key")

    def __init__(self, label: bool, key: str = ""):
        self.label = label
        self.key = key

    def _match(self, values: List[str]) -> Filter:
        f = common_pb2.Filter()
        if self.label:
            f.match.label = True
        else:
            f.match.metadata_key = self.key
        f.match.values.extend(values)
        return Filter(f)

    def _range(self, **bounds: Any) -> Filter:
        if self.label:
            raise invalid("a range needs a numeric metadata key: F.meta(key), not F.label")
        f = common_pb2.Filter()
        f.range.metadata_key = self.key
        for name, value in bounds.items():
            if value is not None:
                setattr(f.range, name, _number(value, f"F.meta({self.key!r})"))
        return Filter(f)

    def __eq__(self, value: Any) -> Filter:  # type: ignore[override]
        return self._match([_value(value)])

    def __ne__(self, value: Any) -> Filter:  # type: ignore[override]
        return ~self._match([_value(value)])

    __hash__ = None  # type: ignore[assignment]

    def in_(self, values: Iterable[Any]) -> Filter:
        """The field equals one of the values."""
        return self._match(_values(values, "in_"))

    isin = in_

    def not_in(self, values: Iterable[Any]) -> Filter:
        """The field equals none of the values (or the item lacks the metadata key)."""
        return ~self._match(_values(values, "not_in"))

    def __lt__(self, value: Any) -> Filter:
        return self._range(lt=value)

    def __le__(self, value: Any) -> Filter:
        return self._range(lte=value)

    def __gt__(self, value: Any) -> Filter:
        return self._range(gt=value)

    def __ge__(self, value: Any) -> Filter:
        return self._range(gte=value)

    def between(self, low: Any, high: Any, *, inclusive: str = "both") -> Filter:
        """low <= value <= high; inclusive="left" (low <= v < high), "right" or "neither"."""
        if inclusive not in ("both", "left", "right", "neither"):
            raise invalid("between: inclusive is 'both', 'left', 'right' or 'neither'")
        lo_in, hi_in = inclusive in ("both", "left"), inclusive in ("both", "right")
        return self._range(**{("gte" if lo_in else "gt"): low, ("lte" if hi_in else "lt"): high})

    def __bool__(self) -> bool:
        raise TypeError("a Field has no truth value: compare it (F.label == 'a')")

    def __repr__(self) -> str:
        return "F.label" if self.label else f"F.meta({self.key!r})"


class _FieldFactory:
    """F.label, F.meta("key"), F.all(...), F.any(...), F.not_(...)."""

    @property
    def label(self) -> Field:
        return Field(True)

    @staticmethod
    def meta(key: str) -> Field:
        if not isinstance(key, str) or not key:
            raise invalid("F.meta(key): key is a non-empty string")
        return Field(False, key)

    @staticmethod
    def all(*filters: Any) -> Filter:
        """AND of the filters (Filter, dict, string or message)."""
        return _list([_as_filter_any(f) for f in filters], "all_of")

    @staticmethod
    def any(*filters: Any) -> Filter:
        """OR of the filters."""
        return _list([_as_filter_any(f) for f in filters], "any_of")

    @staticmethod
    def not_(f: Any) -> Filter:
        return ~_as_filter_any(f)

    def __repr__(self) -> str:
        return "F"


F = _FieldFactory()

FilterLike = Union[Filter, Mapping[str, Any], str, common_pb2.Filter]


def _as_filter_any(value: Any) -> Filter:
    return value if isinstance(value, Filter) else Filter(to_filter(value))


def _list(filters: List[Filter], kind: str) -> Filter:
    if not filters:
        raise invalid(f"{kind}: give at least one filter")
    if len(filters) == 1:
        return filters[0]
    result = common_pb2.Filter()
    getattr(result, kind).filters.extend(f.proto for f in filters)
    return Filter(result)


# ---- dicts

_RANGE_OPS = {"gt", "gte", "lt", "lte"}


def _field_of(key: str) -> Field:
    if key == "label":
        return F.label
    if key.startswith("meta:"):
        return F.meta(key[5:])
    return F.meta(key)


def _from_dict(d: Mapping[str, Any], path: str) -> Filter:
    if not d:
        raise invalid(f"{path}: an empty dict is not a filter")
    parts: List[Filter] = []
    for key, value in d.items():
        if not isinstance(key, str):
            raise invalid(f"{path}: keys are strings, got {key!r}")
        if key in ("$and", "$or"):
            if not isinstance(value, (list, tuple)) or not value:
                raise invalid(f"{path}.{key}: give a non-empty list of filters")
            items = [_from_any(v, f"{path}.{key}[{i}]") for i, v in enumerate(value)]
            parts.append(_list(items, "all_of" if key == "$and" else "any_of"))
        elif key == "$not":
            parts.append(~_from_any(value, f"{path}.$not"))
        elif key.startswith("$"):
            raise invalid(f"{path}: unknown operator {key!r} (use $and, $or, $not)")
        else:
            parts.append(_condition(_field_of(key), value, f"{path}.{key}"))
    return _list(parts, "all_of")


def _condition(field: Field, value: Any, path: str) -> Filter:
    if isinstance(value, Mapping):
        if not value:
            raise invalid(f"{path}: an empty condition")
        unknown = set(value) - _RANGE_OPS - {"eq", "ne", "in", "not_in"}
        if unknown:
            raise invalid(f"{path}: unknown operators {sorted(unknown)} (eq, ne, in, not_in, "
                          "gt, gte, lt, lte)")
        parts: List[Filter] = []
        bounds = {op: value[op] for op in _RANGE_OPS if op in value}
        if bounds:
            if "gt" in bounds and "gte" in bounds or "lt" in bounds and "lte" in bounds:
                raise invalid(f"{path}: give gt or gte, and lt or lte, not both")
            parts.append(field._range(**bounds))
        if "eq" in value:
            parts.append(field == value["eq"])
        if "ne" in value:
            parts.append(field != value["ne"])
        if "in" in value:
            parts.append(field.in_(value["in"]))
        if "not_in" in value:
            parts.append(field.not_in(value["not_in"]))
        return _list(parts, "all_of")
    if isinstance(value, (list, tuple, set, frozenset)):
        return field.in_(value)
    if value is None or isinstance(value, Filter):
        raise invalid(f"{path}: give a value, a list of values or a condition dict")
    return field == value


def _from_any(value: Any, path: str) -> Filter:
    if isinstance(value, Filter):
        return value
    if isinstance(value, common_pb2.Filter):
        return Filter(_copy(value))
    if isinstance(value, Mapping):
        return _from_dict(value, path)
    if isinstance(value, str):
        return Filter(parse_expression(value))
    raise invalid(f"{path}: a filter is an F expression, a dict, a string or a "
                  f"bottleneck.v1.Filter, got {type(value).__name__}")


def to_filter(value: FilterLike) -> common_pb2.Filter:
    """The bottleneck.v1.Filter message of a Filter, dict, CLI-syntax string or message."""
    if isinstance(value, Field):
        raise invalid("filter: a field alone is not a filter; compare it (F.label == 'a')")
    return _from_any(value, "filter").proto


# ---- the CLI's expressions (client/lib/filter_expr.h, the same grammar)

_SPECIAL = set(" \t()!&|,=<>\"")


class _Parser:
    def __init__(self, text: str):
        self.s, self.pos = text, 0

    def fail(self, what: str) -> None:
        raise invalid(f"filter {self.s!r}: {what} at offset {self.pos}")

    def skip(self) -> None:
        while self.pos < len(self.s) and self.s[self.pos] in " \t":
            self.pos += 1

    def eat(self, token: str) -> bool:
        self.skip()
        if self.s.startswith(token, self.pos):
            self.pos += len(token)
            return True
        return False

    def word(self) -> str:
        self.skip()
        s = self.s
        if self.pos < len(s) and s[self.pos] == '"':
            out = []
            self.pos += 1
            while self.pos < len(s) and s[self.pos] != '"':
                if s[self.pos] == "\\" and self.pos + 1 < len(s):
                    self.pos += 1
                out.append(s[self.pos])
                self.pos += 1
            if self.pos >= len(s):
                self.fail("unterminated string")
            self.pos += 1
            return "".join(out)
        start = self.pos
        while self.pos < len(s) and s[self.pos] not in _SPECIAL:
            self.pos += 1
        if self.pos == start:
            self.fail("expected a field or value")
        return s[start:self.pos]

    def parse(self) -> common_pb2.Filter:
        result = self.or_(0)
        self.skip()
        if self.pos != len(self.s):
            self.fail("unexpected input")
        return result

    def or_(self, depth: int) -> common_pb2.Filter:
        if depth > 64:
            self.fail("expression nested too deeply")
        parts = [self.and_(depth)]
        while self.eat("|"):
            parts.append(self.and_(depth))
        return _list([Filter(p) for p in parts], "any_of").proto

    def and_(self, depth: int) -> common_pb2.Filter:
        parts = [self.unary(depth)]
        while self.eat("&"):
            parts.append(self.unary(depth))
        return _list([Filter(p) for p in parts], "all_of").proto

    def unary(self, depth: int) -> common_pb2.Filter:
        if depth > 64:
            self.fail("expression nested too deeply")
        self.skip()
        if self.s.startswith("!", self.pos) and not self.s.startswith("!=", self.pos):
            self.pos += 1
            result = common_pb2.Filter()
            result.none_of.CopyFrom(self.unary(depth + 1))
            return result
        if self.eat("("):
            result = self.or_(depth + 1)
            if not self.eat(")"):
                self.fail("expected ')'")
            return result
        return self.term()

    def term(self) -> common_pb2.Filter:
        name = self.word()
        for op in ("!=", "<=", ">=", "=", "<", ">"):
            if not self.eat(op):
                continue
            key = name[5:] if name.startswith("meta:") else name
            if op in ("=", "!="):
                values = [self.word()]
                while self.eat(","):
                    values.append(self.word())
                field = F.label if name == "label" else F.meta(key)
                match = field._match(values)
                return (match if op == "=" else ~match).proto
            text = self.word()
            try:
                number = float(text) if "_" not in text else math.nan  # as C's strtod
            except ValueError:
                number = math.nan
            if not math.isfinite(number) or text.strip().lower() in ("inf", "nan"):
                self.fail(f"'{text}' is not a number")
            name_of = {"<": "lt", "<=": "lte", ">": "gt", ">=": "gte"}[op]
            return F.meta(key)._range(**{name_of: number}).proto
        self.fail(f"expected = != < <= > or >= after '{name}'")
        raise AssertionError  # unreachable: fail() raises


def parse_expression(text: str) -> common_pb2.Filter:
    """A filter in the CLI's syntax (`label=a,b & price<50 & !brand=x`, `|`, parentheses)."""
    return _Parser(text).parse()


def filter_or_none(value: Optional[FilterLike]) -> Optional[common_pb2.Filter]:
    return None if value is None else to_filter(value)
