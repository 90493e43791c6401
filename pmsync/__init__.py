"""pmsync: hotel PMS reservations in, one clean multi-tenant booking store and stream out.

The domain core lives here; services under ``services/`` are thin entry points over it.
"""

__version__ = "0.1.0"

from pmsync import compiled as _compiled

_compiled.install()  # before any per-record module is imported (see pmsync/compiled.py)
