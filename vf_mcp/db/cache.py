"""The one result cache every tool uses: per-family TTLs, LRU bounded by entries and bytes, single flight.

Families and their TTL settings: schema (schema_cache_ttl_s), table_stats (table_stats_cache_ttl_s),
aggregation (aggregation_cache_ttl_s), kpi (kpi_cache_ttl_s), query (query_cache_ttl_s). With a shared store
(Redis, when redis_url is set), JSON-able results of the shareable families are also written there, so one
instance's answer serves the others. Results are cached, never coroutines.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Protocol, TypeAlias, TypeVar, cast

from vf_mcp.jsontypes import JSONObject

if TYPE_CHECKING:
    from vf_mcp.settings import Settings

T = TypeVar("T")

FAMILIES = ("schema", "table_stats", "aggregation", "kpi", "query")


class SharedStore(Protocol):
    """What the cache needs from Redis (vf_mcp.ops.shared_cache.RedisCache)."""

    async def get(self, key: str) -> bytes | None: ...

    async def set(self, key: str, value: bytes, ttl_s: float) -> None: ...


_Claim: TypeAlias = "asyncio.Future[JSONObject | None]"
"""A claimed key's answer: the result the claiming call puts, or None when it ends without one."""

_CLAIMS: ContextVar[list[_Claim] | None] = ContextVar("vf_mcp_cache_claims", default=None)


@contextmanager
def claims() -> Iterator[None]:
    """One tool call's cache claims: released (waiters compute for themselves) when the call ends."""
    mine: list[_Claim] = []
    token = _CLAIMS.set(mine)
    try:
        yield
    finally:
        _CLAIMS.reset(token)
        for future in mine:
            if not future.done():
                future.set_result(None)


def family_ttls(settings: Settings) -> dict[str, float]:
    """TTL per family from the settings."""
    return {
        "schema": settings.schema_cache_ttl_s,
        "table_stats": settings.table_stats_cache_ttl_s,
        "aggregation": settings.aggregation_cache_ttl_s,
        "kpi": settings.kpi_cache_ttl_s,
        "query": settings.query_cache_ttl_s,
    }


class ResultCache:
    """LRU cache bounded by entry count and approximate bytes, with a TTL per family and hit/miss counts."""

    def __init__(
        self,
        *,
        ttls: Mapping[str, float],
        max_entries: int,
        max_bytes: int,
        shared: SharedStore | None = None,
        namespace: str = "",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttls = dict(ttls)
        self._max_entries = max(0, max_entries)
        self._max_bytes = max(0, max_bytes)
        self._entries: OrderedDict[Hashable, tuple[float, int, object]] = OrderedDict()  # key -> (expiry, size, value)
        self._bytes = 0
        self._shared = shared
        self._namespace = namespace
        self._clock = clock
        self._inflight: dict[Hashable, asyncio.Future[object]] = {}
        self._claims: dict[Hashable, _Claim] = {}
        self.hits = 0
        self.misses = 0
        self.shared_hits = 0

    @property
    def enabled(self) -> bool:
        return self._max_entries > 0 and self._max_bytes > 0

    def ttl(self, family: str) -> float:
        return self._ttls.get(family, 0.0)

    def stats(self) -> dict[str, float]:
        total = self.hits + self.misses
        return {
            "entries": len(self._entries),
            "bytes": self._bytes,
            "hits": self.hits,
            "misses": self.misses,
            "shared_hits": self.shared_hits,
            "hit_rate": round(self.hits / total, 4) if total else 0.0,
        }

    def _local(self, key: Hashable) -> object | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] <= self._clock():
            self._drop(key)
            return None
        self._entries.move_to_end(key)
        return entry[2]

    def _drop(self, key: Hashable) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._bytes -= entry[1]

    def _store(self, key: Hashable, value: object, family: str, size_bytes: int) -> None:
        ttl = self.ttl(family)
        if not self.enabled or ttl <= 0 or size_bytes > self._max_bytes:
            return
        self._drop(key)
        while self._entries and (len(self._entries) >= self._max_entries or self._bytes + size_bytes > self._max_bytes):
            self._drop(next(iter(self._entries)))  # least recently used first
        self._entries[key] = (self._clock() + ttl, size_bytes, value)
        self._bytes += size_bytes

    def _shared_key(self, key: Hashable) -> str:
        digest = hashlib.sha256(repr(key).encode()).hexdigest()[:32]
        return f"vf-mcp:cache:{self._namespace}:{digest}"

    async def get(self, key: Hashable, *, family: str = "query") -> JSONObject | None:
        """A cached JSON-able result (local, then the shared store), or None.

        Single flight: the first caller to miss claims the key for its tool call (see `claims`); identical
        calls arriving meanwhile wait for its answer instead of computing it again. A claim is released when
        the claiming call ends, with or without a put.
        """
        if not self.enabled or self.ttl(family) <= 0:
            return None
        key = _pii_scoped(key)
        hit = await self._lookup(key, family)
        if hit is not None:
            return hit
        claimed = _CLAIMS.get()
        pending = self._claims.get(key)
        if pending is not None and claimed is not None and not any(f is pending for f in claimed):
            value = await asyncio.shield(pending)
            if value is not None:
                self.hits += 1
                return value
        elif pending is None and claimed is not None:
            future: _Claim = asyncio.get_running_loop().create_future()
            self._claims[key] = future
            claimed.append(future)
            future.add_done_callback(functools.partial(self._unclaim, key))
        self.misses += 1
        return None

    def _unclaim(self, key: Hashable, future: _Claim) -> None:
        if self._claims.get(key) is future:
            del self._claims[key]

    async def _lookup(self, key: Hashable, family: str) -> JSONObject | None:
        hit = self._local(key)
        if hit is not None:
            self.hits += 1
            return cast(JSONObject, hit)  # get/put keys hold only put's JSON objects
        if self._shared is not None:
            raw = await self._shared.get(self._shared_key(key))
            if raw is not None:
                value: JSONObject = json.loads(raw)
                self._store(key, value, family, len(raw))
                self.hits += 1
                self.shared_hits += 1
                return value
        return None

    async def put(
        self, key: Hashable, value: JSONObject, *, family: str = "query", size_bytes: int | None = None
    ) -> None:
        """Cache a JSON-able result (also in the shared store when there is one)."""
        if not self.enabled or self.ttl(family) <= 0:
            return
        key = _pii_scoped(key)
        encoded: bytes | None = None
        if size_bytes is None or self._shared is not None:
            encoded = json.dumps(value, default=str, separators=(",", ":")).encode()
            size_bytes = len(encoded)
        self._store(key, value, family, size_bytes)
        pending = self._claims.get(key)
        if pending is not None and not pending.done():
            pending.set_result(value)  # identical calls waiting on this one get the answer
        if self._shared is not None and encoded is not None:
            await self._shared.set(self._shared_key(key), encoded, self.ttl(family))

    async def get_or_compute(
        self, key: Hashable, compute: Callable[[], Awaitable[T]], *, family: str = "schema", refresh: bool = False
    ) -> T:
        """The cached value for `key` (any Python object, local only), computed once however many ask at once."""
        if not refresh:
            hit = self._local(key)
            if hit is not None:
                self.hits += 1
                return cast(T, hit)  # each key is always computed by the same kind of `compute`
            pending = self._inflight.get(key)
            if pending is not None:
                self.hits += 1
                return cast(T, await asyncio.shield(pending))
        self.misses += 1
        future: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            value = await compute()
        except BaseException as exc:
            if not future.done():
                future.set_exception(exc)
                future.exception()  # retrieved: no "never retrieved" warning when nobody waits
            raise
        finally:
            if self._inflight.get(key) is future:
                del self._inflight[key]
        if not future.done():
            future.set_result(value)
        self._store(key, value, family, _approx_size(value))
        return value

    def invalidate(self) -> None:
        self._entries.clear()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._entries)


def _pii_scoped(key: Hashable) -> Hashable:
    """A tool result's key with the caller's PII scope: results masked differently are never served across."""
    from vf_mcp.db.gate import current_caller  # here: gate imports the catalog, which imports this module

    policy = current_caller().pii
    return (key, "raw" if policy is None else policy.scope)


def _approx_size(value: object) -> int:
    """A cheap size estimate for cached Python objects (catalog lists, dicts)."""
    if isinstance(value, (list, tuple, dict)):
        return 256 + 256 * len(value)
    return 256
