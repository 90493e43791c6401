"""Request templates: typed substitution, omitted null keys, and secrets kept out of errors."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pmsync.fetching.source import SourceSpec
from pmsync.fetching.sync import HotelJob, build_request, variables
from pmsync.fetching.templates import TemplateError, as_headers, as_query, render, render_string
from pmsync.hotels import Hotel
from pmsync.secrets import Credentials


def test_a_whole_placeholder_keeps_the_value_type():
    rendered = render({"pageNumber": "${page}", "size": "${page_size}", "flag": "${on}"},
                      {"page": 3, "page_size": 100, "on": True})
    assert rendered == {"pageNumber": 3, "size": 100, "flag": True}
    assert type(rendered["pageNumber"]) is int


def test_a_null_whole_placeholder_omits_its_key():
    assert render({"cursor": "${cursor}", "since": "${since}"},
                  {"cursor": None, "since": "2026-01-01T00:00:00Z"}) == {"since": "2026-01-01T00:00:00Z"}


def test_an_embedded_placeholder_becomes_text_and_null_becomes_empty():
    values = {"credential.api_key": "k-123", "cursor": None, "page": 2}
    assert render_string("Bearer ${credential.api_key}", values) == "Bearer k-123"
    assert render_string("p${page}-${cursor}", values) == "p2-"


def test_nested_bodies_and_lists_are_rendered_and_literals_kept():
    template = {"filter": {"from": "${since}", "limit": "${page_size}", "fixed": 7,
                           "ids": ["${hotel.id}", "x"]}, "none": None}
    rendered = render(template, {"since": "S", "page_size": 50, "hotel.id": "h1"})
    assert rendered == {"filter": {"from": "S", "limit": 50, "fixed": 7, "ids": ["h1", "x"]},
                        "none": None}


def test_an_unknown_variable_names_itself_but_no_secret_value():
    with pytest.raises(TemplateError) as err:
        render({"Authorization": "Bearer ${credential.token}"}, {"credential.api_key": "s3cret"})
    assert "credential.token" in str(err.value)
    assert "s3cret" not in str(err.value)


def test_query_and_header_values_go_on_the_wire_as_text():
    assert as_query({"page": 2, "all": False, "ids": [1, 2]}) == {"page": "2", "all": "false",
                                                                "ids": "[1, 2]"}
    assert as_headers({"X-Page": 3, "X-None": None}) == {"X-Page": "3"}


@given(st.dictionaries(st.text(min_size=1, max_size=8), st.one_of(st.none(), st.integers(), st.text()),
                       max_size=6))
def test_rendering_a_template_without_placeholders_returns_it_unchanged(template):
    # No "${" can appear in generated keys' values unless hypothesis produces it; guard that.
    if any(isinstance(v, str) and "${" in v for v in template.values()):
        return
    assert render(template, {}) == template


def _job(source: dict, **hotel) -> HotelJob:
    base = dict(id="h1", name="H", pms_type="generic", pms_version="1",
                base_url="http://pms.example/root/", property_id="P 1/2")
    base.update(hotel)
    return HotelJob(Hotel(**base), compiled=None,  # type: ignore[arg-type]
                    source=SourceSpec.from_block(source),
                    credentials=Credentials("ref", {"api_key": "KEY"}))


def test_a_request_is_built_exactly_from_the_source_block():
    job = _job({"request": {"method": "post", "path": "/props/${hotel.property_id}/res",
                            "query": {"since": "${since}", "page": "${page}", "cursor": "${cursor}"},
                            "headers": {"Authorization": "Bearer ${credential.api_key}"},
                            "body": {"property": "${hotel.property_id}", "size": "${page_size}"}},
                "pagination": {"type": "page", "page_size": 25}})
    values = {**variables(job, "2026-01-01", "2026-02-01"), "page": 1, "page_size": 25,
              "cursor": None, "offset": None}
    request = build_request(job, values)
    assert request.method == "POST"
    # The property id is one path segment, whatever characters it holds.
    assert request.url == "http://pms.example/root/props/P%201%2F2/res"
    assert request.query == {"since": "2026-01-01", "page": "1"}
    assert request.headers == {"Authorization": "Bearer KEY"}
    assert request.body == {"property": "P 1/2", "size": 25}
    assert "KEY" not in request.where


def test_a_credential_in_the_path_is_sent_but_never_named_in_errors():
    job = _job({"request": {"method": "GET", "path": "/t/${credential.api_key}/res"}})
    request = build_request(job, {**variables(job, "s", "u"), "page": None, "offset": None,
                                  "cursor": None, "page_size": None})
    assert request.url.endswith("/t/KEY/res")
    assert request.where == "GET http://pms.example/root/t/${credential.api_key}/res"
