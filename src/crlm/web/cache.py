"""A small thread-safe time-to-live cache (users per request, cohort reads per view)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class TtlCache(Generic[K, V]):
    """Values kept for ``ttl_s`` seconds; at most ``max_entries`` (the oldest go first)."""

    def __init__(
        self,
        ttl_s: float,
        max_entries: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._clock = clock
        self._entries: dict[K, tuple[float, V]] = {}
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        """The value if still fresh, else None."""
        with self._lock:
            hit = self._entries.get(key)
            if hit is None or hit[0] <= self._clock():
                self._entries.pop(key, None)
                return None
            return hit[1]

    def get_with_remaining(self, key: K) -> tuple[V | None, float]:
        """(value, seconds until it expires) while fresh, else (None, 0)."""
        with self._lock:
            hit = self._entries.get(key)
            now = self._clock()
            if hit is None or hit[0] <= now:
                self._entries.pop(key, None)
                return None, 0.0
            return hit[1], hit[0] - now

    def put(self, key: K, value: V) -> None:
        """Keep ``value`` for ``ttl_s``."""
        with self._lock:
            self._entries.pop(key, None)
            while len(self._entries) >= self.max_entries:
                self._entries.pop(next(iter(self._entries)))
            self._entries[key] = (self._clock() + self.ttl_s, value)

    def discard(self, key: K) -> None:
        """Forget ``key`` (no error when absent)."""
        with self._lock:
            self._entries.pop(key, None)

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._entries.clear()
