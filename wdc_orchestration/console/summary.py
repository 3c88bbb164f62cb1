"""The end of `wdc materialize`: one result per day, a table of them, and where to look next."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

import dagster as dg
from rich import box
from rich.console import Console
from rich.table import Table

ROW_COUNT = "dagster/row_count"
UI_URL = "http://localhost:3000"


@dataclass(frozen=True)
class DayResult:
    """What one day's run did, as the run's own events tell it."""

    day: dt.date
    run_id: str
    run_succeeded: bool
    seconds: float
    assets: int
    rows: int
    checks_passed: int
    checks_warned: int
    checks_failed: int
    failed_steps: tuple[str, ...] = ()
    incidents: int = 0
    # the domains of a day rebuilt because a product they read was published since (late data)
    rebuilt: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """The run succeeded and no blocking (ERROR) check failed."""
        return self.run_succeeded and not self.failed_steps and not self.checks_failed


def day_result(
    day: dt.date, result: dg.ExecuteInProcessResult, seconds: float, incidents: int = 0
) -> DayResult:
    evaluations = result.get_asset_check_evaluations()
    failed = [e for e in evaluations if not e.passed]
    warned = [e for e in failed if e.severity == dg.AssetCheckSeverity.WARN]
    materializations = [
        event.materialization for event in result.get_asset_materialization_events()
    ]
    return DayResult(
        day=day,
        run_id=result.run_id,
        run_succeeded=result.success,
        seconds=seconds,
        assets=len(materializations),
        rows=sum(_row_count(m) for m in materializations),
        checks_passed=len(evaluations) - len(failed),
        checks_warned=len(warned),
        checks_failed=len(failed) - len(warned),
        failed_steps=tuple(event.step_key or "?" for event in result.get_step_failure_events()),
        incidents=incidents,
    )


def _row_count(materialization: dg.AssetMaterialization) -> int:
    value = materialization.metadata.get(ROW_COUNT)
    return int(value.value) if value is not None and value.value is not None else 0


@dataclass(frozen=True)
class Pointers:
    """Where to look after a run: the UI, the log file, the incidents folder."""

    log_file: str
    incidents: str
    extra: list[str] = field(default_factory=list)


def summary_table(results: Sequence[DayResult]) -> Table:
    table = Table(
        box=box.SIMPLE_HEAD,
        caption="rows: what the day's materialisations report (raw landed, tables, published)",
        caption_justify="left",
    )
    table.add_column("day", no_wrap=True)
    table.add_column("result")
    for name in ("assets", "rows", "checks ok", "warned", "failed", "time"):
        # no_wrap: a header split over two lines reads as two columns
        table.add_column(name, justify="right", no_wrap=True)
    table.add_column("run", no_wrap=True)
    for r in results:
        table.add_row(
            r.day.isoformat() + (f" rebuilt: {', '.join(r.rebuilt)}" if r.rebuilt else ""),
            "ok" if r.ok else "FAILED",
            str(r.assets),
            f"{r.rows:,}",
            str(r.checks_passed),
            str(r.checks_warned),
            str(r.checks_failed),
            f"{r.seconds:.1f}s",
            r.run_id[:8],
        )
    if len(results) > 1:
        table.add_section()
        table.add_row(
            "total",
            "ok" if all(r.ok for r in results) else "FAILED",
            str(sum(r.assets for r in results)),
            f"{sum(r.rows for r in results):,}",
            str(sum(r.checks_passed for r in results)),
            str(sum(r.checks_warned for r in results)),
            str(sum(r.checks_failed for r in results)),
            f"{sum(r.seconds for r in results):.1f}s",
            "",
        )
    return table


def pointer_lines(results: Sequence[DayResult], pointers: Pointers) -> list[str]:
    lines = [f"runs:      `wdc dev`, then {UI_URL}/runs (the ids above)"]
    lines += [f"failed:    {UI_URL}/runs/{r.run_id}" for r in results if not r.ok]
    lines.append(f"log:       {pointers.log_file}")
    incidents = sum(r.incidents for r in results)
    lines.append(
        f"incidents: {pointers.incidents}" + (f" ({incidents} new)" if incidents else " (none new)")
    )
    return lines + pointers.extra


def print_summary(console: Console, results: Sequence[DayResult], pointers: Pointers) -> None:
    if results:
        console.print(summary_table(results))
    for line in pointer_lines(results, pointers):
        console.print(line, markup=False)
