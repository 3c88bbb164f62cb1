"""A cache for a simulated day's shared arrays (an order book and what derives from it), that the
platform can empty.

Several simulators of a process read one day's order book (sales, finance and logistics derive
from it), so it is computed once and cached. At SF 100 the cached books of a day hold about 2 GiB,
and a cache never shrinks by itself: in `wdc materialize`, where every step of the day runs in
one process, they stayed for the rest of the run and sat under each dbt step's DuckDB (peak RSS
4.3 GiB of a 4 GiB target). The dbt step empties them first (`release_day_caches`); a simulator
that runs after it recomputes its day (same seed, same arrays)."""

from __future__ import annotations

import functools
import gc
import logging
from collections.abc import Callable
from typing import Any, TypeVar

log = logging.getLogger(__name__)

_F = TypeVar("_F", bound=Callable[..., Any])
_CACHES: list[Any] = []


def day_cache(maxsize: int) -> Callable[[_F], _F]:
    """`functools.lru_cache(maxsize)`, emptied with every other one by `release_day_caches`."""

    def decorate(function: _F) -> _F:
        @functools.wraps(function)
        def compute(*args: Any) -> Any:
            log.info("simulating %s%s", function.__name__, args)
            return function(*args)

        cached = functools.lru_cache(maxsize=maxsize)(compute)
        _CACHES.append(cached)
        return cached  # type: ignore[return-value]

    return decorate


def release_day_caches() -> int:
    """Empty every day cache and collect what they held; returns how many entries they held."""
    entries = sum(cache.cache_info().currsize for cache in _CACHES)
    for cache in _CACHES:
        cache.cache_clear()
    if entries:
        gc.collect()
        log.info("released %d cached simulated day(s)", entries)
    return entries
