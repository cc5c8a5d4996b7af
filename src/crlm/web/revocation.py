"""Revocation across workers: each process polls one shared counter, not the user per request.

Every change that ends a user's sessions and API tokens raises the user's ``generation`` and the
shared ``auth_epoch`` row in one transaction (:mod:`crlm.registry.users`), whichever worker or
CLI command makes it. Each worker keeps users in a short cache (:mod:`crlm.web.deps`); the
:class:`RevocationWatch` reads ``auth_epoch`` at most every ``interval_s`` seconds and, when it
changed, empties the user cache and forgets the user reads in flight, so the next request of
every user reads the registry again.

Guarantee: a request that *starts* ``interval_s`` seconds or more after the revocation was
committed is refused, on every worker. The epoch is read ahead in the background once 80 % of
the interval has passed, so under steady traffic no request waits for it; a request that finds
the last read older than the interval waits for a fresh one (shared by concurrent requests).
The hot path costs one clock read and a comparison; the database sees one small read per worker
per interval, never a write.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable

from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

#: Default bound (seconds) between a revocation and its effect on every other worker
#: (``CRLM_REVOCATION_CHECK_S`` overrides it; 0 reads the epoch on every request).
REVOCATION_CHECK_S = 1.0
REVOCATION_CHECK_ENV = "CRLM_REVOCATION_CHECK_S"
#: Share of the interval after which the epoch is re-read in the background.
READ_AHEAD_SHARE = 0.8


def revocation_check_s(environ: dict[str, str] | None = None) -> float:
    """The check interval from ``CRLM_REVOCATION_CHECK_S`` (default 1 s; invalid → default)."""
    import os

    raw = (os.environ if environ is None else environ).get(REVOCATION_CHECK_ENV)
    try:
        value = float(raw) if raw not in (None, "") else REVOCATION_CHECK_S
    except ValueError:
        return REVOCATION_CHECK_S
    return value if math.isfinite(value) and value >= 0 else REVOCATION_CHECK_S


class RevocationWatch:
    """This process's view of the shared revocation counter (see the module docstring).

    ``on_change`` runs in the event loop whenever a read finds a new epoch (the first read
    included, which costs nothing: the caches are empty at start).
    """

    def __init__(
        self,
        engine: Engine,
        on_change: Callable[[], None],
        interval_s: float = REVOCATION_CHECK_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engine = engine
        self.interval_s = interval_s
        self._on_change = on_change
        self._clock = clock
        self.epoch: int | None = None
        #: When the last completed read *started* (what it saw is at least that fresh).
        self._fresh_as_of = -math.inf
        self._pending: tuple[float, asyncio.Future[None]] | None = None

    async def ensure_fresh(self) -> None:
        """Return once the known epoch was read at most ``interval_s`` before this call."""
        now = self._clock()
        if now - self._fresh_as_of < self.interval_s * READ_AHEAD_SHARE:
            return
        needed = now - self.interval_s
        if self._fresh_as_of >= needed and self.interval_s > 0:
            self._read(needed)  # ahead of time, in the background
            return
        while self._fresh_as_of < needed:
            await asyncio.shield(self._read(needed))

    def _read(self, not_before: float) -> asyncio.Future[None]:
        """A read of the epoch started at or after ``not_before`` (joined if one is in flight)."""
        if self._pending is not None:
            started, future = self._pending
            if started >= not_before and not future.done():
                return future
        started = self._clock()
        future = asyncio.ensure_future(self._read_once(started))
        future.add_done_callback(_retrieve_exception)  # a failed read-ahead is not an error
        self._pending = (started, future)
        return future

    async def _read_once(self, started: float) -> None:
        from crlm.registry.users import read_auth_epoch

        def read() -> int:
            with self.engine.connect() as conn:
                return read_auth_epoch(conn)

        epoch = await run_in_threadpool(read)
        if epoch != self.epoch:
            self.epoch = epoch
            self._on_change()
        self._fresh_as_of = max(self._fresh_as_of, started)


def _retrieve_exception(future: asyncio.Future[None]) -> None:
    """Mark a failed read as seen; requests that awaited it got the exception themselves."""
    if not future.cancelled():
        future.exception()
