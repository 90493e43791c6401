"""Every simulated PMS family/version, by ``(pms_type, pms_version)``.

One module per family (versions of a family that differ in a few names share one module and
say how in its docstring). Adding a family here is all the server needs to serve it.
"""

from __future__ import annotations

from pmsync.simulator.render import cloudbeds, generic_v1, generic_v2, mews
from pmsync.simulator.render.base import Family, HotelView, Query, SimHttpError

FAMILIES: dict[tuple[str, str], Family] = {
    (f.pms_type, f.pms_version): f
    for f in (generic_v1.FAMILY, generic_v2.FAMILY, cloudbeds.V1_1, cloudbeds.V1_2,
              mews.V2017, mews.V2023)
}

__all__ = ["FAMILIES", "Family", "HotelView", "Query", "SimHttpError"]
