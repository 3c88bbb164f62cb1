"""Vectorised, stateless integer hashing: attributes of an id without any random state.

Any simulator can compute the attributes of any customer or product from its id alone, so
systems agree on them without reading each other's files (the way a real CRM and ERP agree
because they share a master record).
"""

from __future__ import annotations

import numpy as np

from wdc_orchestration.raw.generation.request import stable_int

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
_INV_2_53 = 1.0 / float(1 << 53)


def splitmix64(x: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser over uint64 (a bijection, so distinct inputs stay distinct)."""
    z = x + _GOLDEN
    z = (z ^ (z >> _S30)) * _MIX1
    z = (z ^ (z >> _S27)) * _MIX2
    return z ^ (z >> _S31)


def hash_ids(ids: np.ndarray, seed: int, *stream: str | int) -> np.ndarray:
    """A uint64 hash of each id, independent per (seed, stream...)."""
    key = np.uint64(stable_int(seed, *stream))
    with np.errstate(over="ignore"):
        return splitmix64(splitmix64(np.asarray(ids).astype(np.uint64) ^ key) + key)


def uniform(ids: np.ndarray, seed: int, *stream: str | int) -> np.ndarray:
    """A float64 in [0, 1) per id, deterministic in (seed, stream, id)."""
    return (hash_ids(ids, seed, *stream) >> _S11).astype(np.float64) * _INV_2_53


def below(ids: np.ndarray, n: int | np.ndarray, seed: int, *stream: str | int) -> np.ndarray:
    """An int64 in [0, n) per id (n may be an array, one bound per id)."""
    return (uniform(ids, seed, *stream) * n).astype(np.int64)


def weighted_index(u: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Map uniforms in [0, 1) to indices of `weights` (inverse CDF, vectorised)."""
    cdf = np.cumsum(np.asarray(weights, dtype=np.float64))
    cdf /= cdf[-1]
    return np.minimum(np.searchsorted(cdf, u, side="right"), len(cdf) - 1).astype(np.int64)
