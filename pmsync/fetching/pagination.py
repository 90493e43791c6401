"""Walking a PMS's pages: which ``page``/``offset``/``cursor`` to ask for next, and when to stop.

One ``Pager`` per walk of a sync (a sync of several requests walks its pages again until a
walk proves nothing was skipped: ``walks.py``). The stop rules are docs/config-language.md's:
page and offset stop on a short page, cursor stops on a missing/null cursor or an empty page,
none asks once. A PMS that keeps answering (the same cursor twice, or more pages than any real
hotel has) is an error, never an endless loop.
"""

from __future__ import annotations

from typing import Any

from pmsync.errors import PMSConnectionError
from pmsync.fetching.source import PaginationSpec

# Far above any real hotel's backlog (1M records at 100 per page); reaching it means the PMS
# ignores the paging parameters and would otherwise be polled forever.
MAX_PAGES = 10_000


class Pager:
    def __init__(self, spec: PaginationSpec, max_pages: int = MAX_PAGES) -> None:
        self.spec = spec
        self.max_pages = max_pages
        self.requests = 0
        self.page: int = spec.start
        self.offset: int = 0
        self.cursor: Any = None
        self._seen_cursors: set[str] = set()

    def variables(self) -> dict[str, Any]:
        """The paging variables of the next request (all present; unused ones are null)."""
        kind = self.spec.type
        return {
            "page": self.page if kind == "page" else None,
            "offset": self.offset if kind == "offset" else None,
            "cursor": self.cursor if kind == "cursor" else None,
            "page_size": self.spec.page_size,
        }

    def advance(self, records: list[Any], body: Any) -> bool:
        """Account for a received page; True when another request is needed."""
        self.requests += 1
        kind = self.spec.type
        if kind == "none":
            return False
        if kind in ("page", "offset"):
            size = self.spec.page_size or 0
            if len(records) < size:
                return False
            self.page += 1
            self.offset += len(records)
        else:  # cursor
            cursor = self._next_cursor(body)
            if cursor is None or cursor == "" or not records:
                return False
            key = repr(cursor)
            if key in self._seen_cursors:
                raise PMSConnectionError(
                    f"the PMS returned the same next cursor twice (after {self.requests} pages); "
                    "stopping instead of looping forever")
            self._seen_cursors.add(key)
            self.cursor = cursor
        if self.requests >= self.max_pages:
            raise PMSConnectionError(
                f"more than {self.max_pages} pages in one sync; the PMS seems to ignore the "
                f"{kind} parameters of source.pagination")
        return True

    def _next_cursor(self, body: Any) -> Any:
        matches = self.spec.next_cursor.find(body) if self.spec.next_cursor is not None else []
        return matches[0].value if matches else None
