"""The volumes the simulators can make (checked by the CLI, the settings and every request).
No imports beyond the standard library: `get_settings` checks WDC_SCALE_FACTOR with it."""

from __future__ import annotations

import math

# A day's ids are YYYYMMDD * 10^7 + a sequence number (domains/_shared/world.py) and SF 1 is up
# to 60k orders on a busy day (50k x 1.2): above SF ~166 one day's ids would run into the next
# day's. Below ~0.001 every entity is at its minimum volume (small, but a real day).
MAX_SCALE_FACTOR = 150.0
SCALE_FACTOR_RANGE = f"a number above 0 and at most {MAX_SCALE_FACTOR:g} (1 = ~50k orders a day)"


def scale_factor_problem(value: float) -> str | None:
    """Why `value` is not a volume the simulators can make; None when it is. NaN, infinities, 0
    and negative numbers used to land a day at the minimum volume, or a manifest with `NaN`."""
    if not (math.isfinite(value) and 0 < value <= MAX_SCALE_FACTOR):
        return f"{value!r} is not a scale factor: use {SCALE_FACTOR_RANGE}"
    return None
