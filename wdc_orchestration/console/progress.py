"""Progress of `wdc materialize`: days, and the steps within a day.

`execute_in_process` runs the whole day synchronously, so the steps are followed from the event
stream: the instance calls a listener registered for the run id right after it stores each
event, the same events the UI shows. On a terminal that drives rich progress bars; elsewhere
each finished step is one plain log line (CI logs and pipes get no escape codes)."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

import dagster as dg
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from wdc_orchestration.console.output import is_interactive, stderr_console

log = logging.getLogger(__name__)

_STEP_START = "STEP_START"
_STEP_DONE = {"STEP_SUCCESS": "ok", "STEP_FAILURE": "FAILED", "STEP_SKIPPED": "skipped"}


class DayProgress(Protocol):
    def start_day(self, number: int, day: dt.date, steps: int) -> None: ...

    def step_started(self, step_key: str) -> None: ...

    def step_finished(self, step_key: str, outcome: str) -> None: ...

    def finish_day(self, ok: bool) -> None: ...


def follow_run(instance: dg.DagsterInstance, run_id: str, progress: DayProgress) -> None:
    """Feed `progress` from the run's events as the instance stores them."""

    def on_event(entry: dg.EventLogEntry) -> None:
        event = entry.dagster_event
        if event is None or event.step_key is None:
            return
        try:
            if event.event_type_value == _STEP_START:
                progress.step_started(event.step_key)
            elif event.event_type_value in _STEP_DONE:
                progress.step_finished(event.step_key, _STEP_DONE[event.event_type_value])
        except Exception:  # the display must never break the run it reports on
            log.debug("progress display failed", exc_info=True)

    instance.add_event_listener(run_id, on_event)


class LogLines:
    """One log line per finished step and per day: honest in a file, readable in CI."""

    def __init__(self, days: int) -> None:
        self._days = days
        self._label = ""
        self._steps = 0
        self._done = 0
        self._started: dict[str, float] = {}

    def start_day(self, number: int, day: dt.date, steps: int) -> None:
        self._label = f"day {number}/{self._days} {day}"
        self._steps, self._done = steps, 0
        log.info("%s: %d steps", self._label, steps)

    def step_started(self, step_key: str) -> None:
        self._started[step_key] = time.perf_counter()

    def step_finished(self, step_key: str, outcome: str) -> None:
        self._done += 1
        seconds = time.perf_counter() - self._started.pop(step_key, time.perf_counter())
        log.log(
            logging.ERROR if outcome == "FAILED" else logging.INFO,
            "%s: step %d/%d %s %s in %.1fs",
            self._label,
            self._done,
            self._steps,
            step_key,
            outcome,
            seconds,
        )

    def finish_day(self, ok: bool) -> None:
        pass  # the day's own result line is the CLI's


class Bars:
    """Two rich progress bars, days and the current day's steps, with the running step."""

    def __init__(self, progress: Progress, days: int) -> None:
        self._progress = progress
        self._days_task: TaskID = progress.add_task("days", total=days, step="")
        self._steps_task: TaskID | None = None
        self._running: list[str] = []

    def start_day(self, number: int, day: dt.date, steps: int) -> None:
        self._steps_task = self._progress.add_task(f"{day}", total=steps, step="")
        self._running = []

    def step_started(self, step_key: str) -> None:
        self._running.append(step_key)
        self._show_running()

    def step_finished(self, step_key: str, outcome: str) -> None:
        if step_key in self._running:
            self._running.remove(step_key)
        if outcome == "FAILED":
            self._progress.console.log(f"step failed: {step_key}")
        assert self._steps_task is not None
        self._progress.advance(self._steps_task)
        self._show_running()

    def finish_day(self, ok: bool) -> None:
        assert self._steps_task is not None
        self._progress.update(self._steps_task, step="ok" if ok else "FAILED")
        self._progress.advance(self._days_task)

    def _show_running(self) -> None:
        assert self._steps_task is not None
        self._progress.update(self._steps_task, step=", ".join(self._running))


@contextmanager
def day_progress(days: int) -> Iterator[DayProgress]:
    """Bars on a terminal, log lines elsewhere."""
    if not is_interactive():
        yield LogLines(days)
        return
    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description:>10}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[step]}"),
        console=stderr_console(),
    )
    with progress:
        yield Bars(progress, days)
