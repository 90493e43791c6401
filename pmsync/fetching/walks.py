"""The walks of one sync: proof that a multi-page walk skipped no record, or another walk.

Why a walk can skip: a PMS answers each page request from its data *as it is then*. When a
record the walk already passed changes (it moves to the end of a modification-time order, or
leaves the ``until`` window) or disappears, every later record moves up one place, and the
record at the page boundary lands on a page already read. An id cursor is worse: if the cursor
record itself moved, "records after it" is everything after its new place. The skipped record
is older than the checkpoint the sync leaves behind, so no later sync asks for it again. This
holds for page, offset and cursor paging alike, with or without an upper time bound.

How a skip is ruled out, the same way for every pagination type (no per-PMS code):

- A walk answered by **one request** is one consistent snapshot and cannot skip: steady-state
  single-page syncs cost nothing extra.
- Otherwise the sync walks the same window again (same ``since``/``until``) and compares.
  Every record is known by the hash of its published bytes (record + context), so an edited
  record is a new identity. A skip in walk *n* needs a record walk *n* had already served to
  change or vanish during walk *n*; that old version can never be served again. So when walk
  *n+1* serves again every identity walk *n* served, walk *n* skipped nothing, and the sync is
  complete. (A walk that merely "brings nothing new" proves nothing: it can skip the same
  record again.) Each walk publishes only identities not yet published by this sync.
- A PMS still changing after ``MAX_WALKS`` walks fails the sync without moving the checkpoint;
  what was published stays published (upserts are idempotent) and the next sync reads the
  same window again.

Records changed during the sync carry a modification time after the sync's start, so the
next sync (from the start minus ``delta.overlap_seconds``) reads their new versions.

Cost: a quiet walk of N pages costs 2·N requests; each walk disturbed by a change costs one
more walk. This module must never decide a walk is complete without that proof.
"""

from __future__ import annotations

import hashlib
from typing import Final

from pmsync.errors import PMSConnectionError

# Four walks: a walk disturbed by changes, and up to two more for changes during the
# confirming walks themselves. A PMS busier than that fails the sync, which is retried later.
MAX_WALKS: Final = 4


def identity(value: bytes, context: bytes | None) -> bytes:
    """What a published record is known by: a change in either part is a new version."""
    digest = hashlib.blake2b(value, digest_size=16)
    if context is not None:
        digest.update(b"\x00")
        digest.update(context)
    return digest.digest()


class UnsettledWalksError(PMSConnectionError):
    """The PMS's pages kept changing under every walk: nothing is known to be wrong with the
    hotel's PMS (it answered every request), so the sync is retried on the normal schedule
    rather than counted as the hotel's failure and backed off."""


class Walks:
    """The identities each walk of one sync saw, and which of them were published."""

    def __init__(self, max_walks: int = MAX_WALKS) -> None:
        self.max_walks = max_walks
        self.count = 1                      # the walk now running, 1-based
        self.published: set[bytes] = set()
        self._previous: set[bytes] | None = None
        self._current: set[bytes] = set()

    def first_seen(self, ident: bytes) -> bool:
        """Note a record of the current walk; True when this sync has not published it yet."""
        self._current.add(ident)
        if ident in self.published:
            return False
        self.published.add(ident)
        return True

    def another(self, requests: int) -> bool:
        """The current walk took ``requests`` requests: True when the sync must walk again,
        False when it is complete; raises when the PMS kept changing for ``max_walks`` walks."""
        if requests <= 1:
            return False
        if self._previous is not None and self._previous <= self._current:
            return False
        if self.count >= self.max_walks:
            raise UnsettledWalksError(
                f"the PMS's answers kept changing during {self.count} walks of its pages "
                f"({requests} requests in the last), so a record may have moved past a page "
                "boundary unseen; the checkpoint stays where it was and the next sync reads the "
                "same window again. If this repeats, raise source.pagination.page_size so a "
                "walk takes fewer requests")
        self._previous, self._current = self._current, set()
        self.count += 1
        return True
