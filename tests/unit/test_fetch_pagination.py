"""Each pagination type asks for the right next page and stops by the documented rule."""

from __future__ import annotations

import pytest

from pmsync.errors import ConfigError, PMSConnectionError
from pmsync.fetching.pagination import Pager
from pmsync.fetching.source import SourceSpec


def _pager(pagination: dict, max_pages: int = 10_000) -> Pager:
    return Pager(SourceSpec.from_block({"pagination": pagination}).pagination, max_pages)


def test_page_pagination_counts_from_start_and_stops_on_a_short_page():
    pager = _pager({"type": "page", "start": 1, "page_size": 2})
    asked = []
    for page in (["a", "b"], ["c", "d"], ["e"]):
        asked.append(pager.variables())
        more = pager.advance(page, {})
    assert [v["page"] for v in asked] == [1, 2, 3]
    assert all(v["page_size"] == 2 and v["offset"] is None and v["cursor"] is None for v in asked)
    assert more is False


def test_page_pagination_asks_once_more_after_an_exactly_full_last_page():
    pager = _pager({"type": "page", "start": 0, "page_size": 2})
    assert pager.variables()["page"] == 0
    assert pager.advance(["a", "b"], {}) is True
    assert pager.variables()["page"] == 1
    assert pager.advance([], {}) is False


def test_offset_pagination_advances_by_the_records_received():
    pager = _pager({"type": "offset", "page_size": 3})
    offsets = []
    for page in (["a", "b", "c"], ["d", "e", "f"], ["g"]):
        offsets.append(pager.variables()["offset"])
        more = pager.advance(page, {})
    assert offsets == [0, 3, 6]
    assert more is False


def test_cursor_pagination_follows_next_cursor_until_it_is_null():
    pager = _pager({"type": "cursor", "next_cursor_path": "$.meta.next"})
    assert pager.variables()["cursor"] is None
    assert pager.advance(["a"], {"meta": {"next": "c2"}}) is True
    assert pager.variables()["cursor"] == "c2"
    assert pager.advance(["b"], {"meta": {"next": None}}) is False


@pytest.mark.parametrize("body, records", [({"meta": {}}, ["a"]), ({"meta": {"next": ""}}, ["a"]),
                                           ({"meta": {"next": "c9"}}, [])])
def test_cursor_pagination_stops_on_a_missing_cursor_or_an_empty_page(body, records):
    pager = _pager({"type": "cursor", "next_cursor_path": "$.meta.next"})
    assert pager.advance(records, body) is False


def test_a_cursor_that_repeats_is_an_error_not_an_endless_loop():
    pager = _pager({"type": "cursor", "next_cursor_path": "$.next"})
    pager.advance(["a"], {"next": "same"})
    with pytest.raises(PMSConnectionError, match="same next cursor twice"):
        pager.advance(["b"], {"next": "same"})


def test_none_pagination_asks_once():
    pager = _pager({"type": "none"})
    assert pager.variables() == {"page": None, "offset": None, "cursor": None, "page_size": None}
    assert pager.advance(["a"] * 500, {}) is False


def test_a_pms_that_ignores_paging_parameters_hits_the_page_limit():
    pager = _pager({"type": "page", "page_size": 1}, max_pages=3)
    assert pager.advance(["a"], {}) and pager.advance(["a"], {})
    with pytest.raises(PMSConnectionError, match="more than 3 pages"):
        pager.advance(["a"], {})


@pytest.mark.parametrize("pagination, pointer", [
    ({"type": "page"}, "/source/pagination/page_size"),
    ({"type": "offset", "page_size": 0}, "/source/pagination/page_size"),
    ({"type": "cursor"}, "/source/pagination/next_cursor_path"),
    ({"type": "cursor", "next_cursor_path": "$[?("}, "/source/pagination/next_cursor_path"),
    ({"type": "scroll"}, "/source/pagination/type"),
])
def test_a_pagination_block_that_cannot_work_is_a_config_error_naming_the_pointer(pagination, pointer):
    with pytest.raises(ConfigError) as err:
        SourceSpec.from_block({"pagination": pagination})
    assert [p for p, _ in err.value.errors] == [pointer]
