"""How long a domain's run waits for another domain's data of the day (its products published, its
raw export landed) before it gives up. Nightly runs of every domain start together; a consumer's
run waits in its readiness checks, holding no pool slot, and goes on by itself once the producer
published (quality/upstream.py)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import dagster as dg
from pydantic import Field

T = TypeVar("T")


class UpstreamWait(dg.ConfigurableResource):
    """`timeout_seconds` 0: do not wait (the CLI, which runs domains in order in one process)."""

    timeout_seconds: float = Field(
        default=86_400.0, description="Give up after this long (a day late is an incident)."
    )
    poll_seconds: float = Field(default=2.0, description="How often to look again.")
    report_seconds: float = Field(default=60.0, description="How often to say it still waits.")

    def until(
        self,
        missing: Callable[[], list[T]],
        report: Callable[[list[T], float], None],
    ) -> tuple[list[T], float]:
        """Poll `missing()` until it is empty or the timeout passed; `report(missing, waited)` is
        called when the wait starts and then every `report_seconds`. Returns what is still
        missing (empty: all there) and the seconds waited."""
        started = time.monotonic()
        still = missing()
        reported = None
        while still:
            waited = time.monotonic() - started
            if reported is None or waited - reported >= self.report_seconds:
                report(still, waited)
                reported = waited
            if waited >= self.timeout_seconds:
                break
            time.sleep(min(self.poll_seconds, max(self.timeout_seconds - waited, 0.0)) or 0.01)
            still = missing()
        return still, time.monotonic() - started
