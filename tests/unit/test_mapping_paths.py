"""Compiled JSONPath look-ups return what jsonpath-ng itself returns (first match or None).

Simple paths and the ``[?(@.x == literal)]`` filter shape have fast look-ups of their own;
this differential test proves they agree with the reference on any document."""

from __future__ import annotations

import functools

import jsonpath_ng.ext
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pmsync.mapping import paths

KEYS = st.sampled_from(["a", "b", "c", "k", "a b", "Count", "AgeClassification"])
LEAVES = st.none() | st.booleans() | st.integers(-2, 2) | st.sampled_from([1.0, 0.0, "x", "Adult", "Child", "1", ""])
DOCS = st.recursive(LEAVES, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=4),
                    max_leaves=25)

PATHS = [
    "$", "$.a", "$.a.b", "$.a.b.c", "$.a.b.c.k", "$.a[0]", "$.a[1].b", "$['a b']", "$['a b'].c[0]",
    "$.a[?(@.k=='x')]", "$.a[?(@.k=='x')].c", "$.a[?(@.k == 1)].c", "$.a[?(@.k==0)].c",
    "$.a[?(@.b.k=='x')].c[0]", "$.a.b[?(@.k==\"Adult\")].Count",
    "$.PersonCounts[?(@.AgeClassification=='Adult')].Count",
]


@functools.cache
def _parsed(path: str):
    return jsonpath_ng.ext.parse(path)


def reference(path: str, doc: object) -> object:
    matches = _parsed(path).find(doc)
    return matches[0].value if matches else None


@pytest.mark.parametrize("path", PATHS)
def test_compiled_lookup_agrees_with_jsonpath_ng(path: str) -> None:
    get = paths.compile_first(path)

    @settings(max_examples=300, deadline=None)
    @given(doc=DOCS | st.fixed_dictionaries({"a": DOCS, "PersonCounts": DOCS}))
    def check(doc: object) -> None:
        expected = reference(path, doc)
        assert get(doc) == expected and type(get(doc)) is type(expected)
    check()


def test_filter_picks_the_first_element_that_matches_and_has_the_value() -> None:
    get = paths.compile_first("$.P[?(@.k=='Adult')].Count")
    assert get({"P": [{"k": "Child", "Count": 1}, {"k": "Adult"}, {"k": "Adult", "Count": 2}]}) == 2
    assert get({"P": [{"k": "Adult", "Count": None}, {"k": "Adult", "Count": 2}]}) is None
    assert paths.compile_first("$.P[?(@.k==1)].v")({"P": [{"k": True, "v": "bool"}, {"k": 1.0, "v": "num"}]}) == "num"


@pytest.mark.parametrize("path", ["$.a[", "$..[", "a.b", "$.a[?(@.x ==)]", 5])
def test_bad_paths_are_reported(path: object) -> None:
    assert paths.check(path)


def test_locations_are_jsonpath_like() -> None:
    assert paths.location(["a", 0, "b c", "it's"]) == "$.a[0]['b c']['it\\'s']"
    assert paths.location([]) == "$"
