"""Configs for the churn scenario: the shipped configs of each pagination style, with small
pages (so every hotel's sync walks several pages the PMS can edit between) and with and
without an upper time bound on the "changed since" window. Same records, same mappings: only
how the fetcher walks differs, which is what churn tests."""

from __future__ import annotations

import copy
from dataclasses import dataclass

from pmsync.config import load_config_dir
from pmsync.config.load import load_config
from tests.integration.pipeline_harness import CONFIG_DIR


def page_size(bookings_per_hotel: int) -> int:
    """About four pages per hotel's first walk, at any scale: enough page boundaries for churn
    to move records across, few enough that a walk can settle (each gap between two page
    requests is a chance for an edit, and a walk is confirmed only by one the PMS left alone)."""
    return max(10, bookings_per_hotel // 4)


@dataclass(frozen=True)
class Variant:
    pms_type: str
    shipped: str          # the shipped version it is derived from (what the simulator serves)
    style: str            # page, offset or cursor
    bounded: bool         # does the request carry an upper time bound ("until")?

    @property
    def version(self) -> str:
        return f"{self.shipped}-churn-{'bounded' if self.bounded else 'open'}"

    @property
    def label(self) -> str:
        return f"{self.style} {'with' if self.bounded else 'without'} upper bound ({self.pms_type} {self.shipped})"


VARIANTS = (
    Variant("cloudbeds", "1.1", "page", False),
    Variant("cloudbeds", "1.2", "page", True),
    Variant("generic", "v2", "offset", False),
    Variant("generic", "v2", "offset", True),
    Variant("mews", "2023-06-06", "cursor", True),
    Variant("mews", "2023-06-06", "cursor", False),
    Variant("mews", "2017-04-12", "cursor", True),
)


def variant_configs(size: int) -> list:
    shipped = {(c.pms_type, c.version): c for c in load_config_dir(CONFIG_DIR)}
    out = []
    for v in VARIANTS:
        body = copy.deepcopy(shipped[(v.pms_type, v.shipped)].body)
        body["version"] = v.version
        source = body["source"]
        source["pagination"]["page_size"] = size
        request = source["request"]
        if v.pms_type == "generic":
            if v.bounded:
                request["query"]["updatedUntil"] = "${until}"
        elif v.pms_type == "mews" and not v.bounded:
            request["body"]["UpdatedUtc"].pop("EndUtc")
        assert ("${until}" in str(request)) == v.bounded, f"{v.label}: the request does not match"
        out.append(load_config(body))
    return out
