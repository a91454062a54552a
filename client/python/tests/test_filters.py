"""bottleneck_client.filters without a server: the builder, dicts and CLI-syntax strings become
the bottleneck.v1.Filter messages the server documents (common.proto), and misuse is refused
before anything is sent."""
import re

import grpc
import pytest

from bottleneck_client import BottleneckError, F, Filter
from bottleneck_client.filters import parse_expression, to_filter
from bottleneck_client.proto import common_pb2


def match(values, key=None):
    f = common_pb2.Filter()
    if key is None:
        f.match.label = True
    else:
        f.match.metadata_key = key
    f.match.values.extend(values)
    return f


def rng(key, **bounds):
    f = common_pb2.Filter()
    f.range.metadata_key = key
    for name, value in bounds.items():
        setattr(f.range, name, value)
    return f


def combine(kind, *parts):
    f = common_pb2.Filter()
    getattr(f, kind).filters.extend(parts)
    return f


def negate(inner):
    f = common_pb2.Filter()
    f.none_of.CopyFrom(inner)
    return f


def test_builder_leaves():
    assert to_filter(F.label == "boot") == match(["boot"])
    assert to_filter(F.label.in_(["a", "b"])) == match(["a", "b"])
    assert to_filter(F.meta("n") == 5) == match(["5"], "n")  # values compare as strings
    assert to_filter(F.meta("brand") != "acme") == negate(match(["acme"], "brand"))
    assert to_filter(F.meta("brand").not_in(("x", "y"))) == negate(match(["x", "y"], "brand"))
    assert to_filter(F.meta("label") == "x") == match(["x"], "label")  # a key named label
    assert to_filter(F.meta("p") < 50) == rng("p", lt=50)
    assert to_filter(F.meta("p") <= 5) == rng("p", lte=5)
    assert to_filter(F.meta("p") > 1.5) == rng("p", gt=1.5)
    assert to_filter(F.meta("p") >= -2) == rng("p", gte=-2)
    assert to_filter(F.meta("p").between(1, 9)) == rng("p", gte=1, lte=9)
    assert to_filter(F.meta("p").between(1, 9, inclusive="left")) == rng("p", gte=1, lt=9)
    assert to_filter(F.meta("p").between(1, 9, inclusive="neither")) == rng("p", gt=1, lt=9)


def test_builder_combinations_flatten():
    a, b, c = F.label == "a", F.meta("p") < 3, F.meta("q") == "z"
    assert to_filter(a & b & c) == combine("all_of", match(["a"]), rng("p", lt=3),
                                           match(["z"], "q"))
    assert to_filter((a | b) & c) == combine("all_of", combine("any_of", match(["a"]),
                                                               rng("p", lt=3)),
                                             match(["z"], "q"))
    assert to_filter(~a) == negate(match(["a"]))
    assert to_filter(~~a) == match(["a"])
    assert to_filter(F.all(a, b)) == to_filter(a & b)
    assert to_filter(F.any(a, {"q": "z"})) == to_filter(a | c)
    assert to_filter(F.not_("label=a")) == to_filter(~a)
    # A Filter combines with dicts and messages on either side (order kept).
    assert to_filter(a & {"q": "z"}) == combine("all_of", match(["a"]), match(["z"], "q"))
    assert to_filter({"q": "z"} & a) == combine("all_of", match(["z"], "q"), match(["a"]))
    assert to_filter(match(["z"], "q") | a) == combine("any_of", match(["z"], "q"),
                                                       match(["a"]))
    assert "label == 'a'" in repr(a) and "!=" in repr(F.meta("b") != 1)


def test_dicts():
    assert to_filter({"label": "a"}) == match(["a"])
    assert to_filter({"label": ["a", "b"]}) == match(["a", "b"])
    assert to_filter({"meta:label": "x"}) == match(["x"], "label")
    assert to_filter({"p": {"gte": 10, "lt": 50}}) == rng("p", gte=10, lt=50)
    assert to_filter({"b": {"ne": "acme"}}) == negate(match(["acme"], "b"))
    assert to_filter({"b": {"in": [1, 2]}}) == match(["1", "2"], "b")
    assert to_filter({"b": {"not_in": ["x"]}}) == negate(match(["x"], "b"))
    assert to_filter({"label": "a", "p": {"lt": 3}}) == combine("all_of", match(["a"]),
                                                               rng("p", lt=3))
    assert to_filter({"$or": [{"label": "a"}, {"p": {"lt": 3}}]}) == combine(
        "any_of", match(["a"]), rng("p", lt=3))
    assert to_filter({"$not": {"label": "a"}}) == negate(match(["a"]))
    assert to_filter({"$and": [{"label": "a"}, "p<3"]}) == to_filter({"label": "a",
                                                                      "p": {"lt": 3}})


def test_strings_use_the_cli_grammar():
    assert parse_expression("label=sneaker,boot & price<50 & !brand=acme") == combine(
        "all_of", match(["sneaker", "boot"]), rng("price", lt=50),
        negate(match(["acme"], "brand")))
    assert parse_expression('a = "x y" | (b!=1 & c>=2.5)') == combine(
        "any_of", match(["x y"], "a"),
        combine("all_of", negate(match(["1"], "b")), rng("c", gte=2.5)))
    assert parse_expression("meta:label=x") == match(["x"], "label")
    assert parse_expression(r'q="a\"b"') == match(['a"b'], "q")
    assert parse_expression("p>1e-310") == rng("p", gt=1e-310)  # as the CLI: a number
    for bad, what in (("label=", "expected a field or value"), ("a<x", "not a number"),
                      ("a<1e309", "not a number"), ("a<1_0", "not a number"),
                      ("(a=1", "expected ')'"), ("a=1 b=2", "unexpected input"),
                      ('a="x', "unterminated string"), ("a", "expected = != < <= > or >=")):
        with pytest.raises(BottleneckError, match=re.escape(what)) as error:
            parse_expression(bad)
        assert error.value.code == grpc.StatusCode.INVALID_ARGUMENT


def test_raw_messages_pass_through_unchanged():
    f = combine("all_of", match(["a"]), rng("p", lt=3))
    assert to_filter(f) == f
    assert to_filter(f) is not f  # a copy: the caller's message is never changed
    assert to_filter(Filter(f)) == f


def test_misuse_is_refused():
    with pytest.raises(TypeError, match="parentheses"):
        (F.label == "a") & F.meta("price") < 50  # & binds tighter than <
    with pytest.raises(TypeError, match="truth value"):
        (F.label == "a") and (F.label == "b")
    with pytest.raises(TypeError, match="truth value"):
        bool(F.label)
    for bad in ({}, {"label": None}, {"$xor": []}, {"p": {"gt": 1, "gte": 2}},
                {"p": {"between": 1}}, {"$or": []}, {"p": {}}, 42, F.label,
                {"p": {"lt": "many"}}, {"p": {"lt": float("inf")}}):
        with pytest.raises(BottleneckError) as error:
            to_filter(bad)
        assert error.value.code == grpc.StatusCode.INVALID_ARGUMENT, bad
    for bad in (lambda: F.label < 3, lambda: F.label.in_("ab"), lambda: F.label.in_([]),
                lambda: F.meta(""), lambda: F.meta("p") < True,
                lambda: F.meta("p").between(1, 2, inclusive="both ends")):
        with pytest.raises(BottleneckError):
            bad()
