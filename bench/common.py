"""Shared helpers of the benchmark scripts: an isolated temporary lake, the machine, running and
sampling a subprocess (wall time, peak RSS of its whole process tree), and the report format.

Every script writes its figures to stdout twice: a human table and one machine-readable line
`BENCH_JSON {...}` (what tests/test_bench_smoke.py and docs/benchmarks.md read)."""

from __future__ import annotations

import datetime as dt
import importlib
import json
import logging
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from wdc_orchestration.settings import environment, isolated_lake_env

PROJECT_ROOT = Path(__file__).resolve().parent.parent
JSON_PREFIX = "BENCH_JSON "
PACKAGES = ("dagster", "dagster-dbt", "dbt-core", "dbt-duckdb", "duckdb", "polars", "pyarrow")

log = logging.getLogger("bench")


def setup_logging() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", stream=sys.stderr
    )


def simulator_entities(domains: Sequence[str] | None = None) -> dict[str, tuple]:
    """domain -> the raw entities its simulator exports, in workspace order. Imported from the
    simulators, not the code locations: loading a location prepares the dbt manifest, which a
    generation benchmark does not need."""
    from wdc_orchestration.mesh.registry import domain_modules

    return {
        name: importlib.import_module(f"domains.{name}.simulator").ENTITIES
        for name in domain_modules()
        if not domains or name in domains
    }


@contextmanager
def temp_lake(prefix: str, keep: bool = False) -> Iterator[Path]:
    """A temporary folder whose lake settings are exported to this process (and its children)
    for the duration of the block; the previous settings are restored afterwards.

    With WDC_BENCH_ROOT set (the smoke test does), that folder is used instead, emptied first
    and kept: the lake paths then stay the same from one script to the next, so the dbt manifest
    prepared for them is parsed once, not once per script."""
    fixed = os.environ.get("WDC_BENCH_ROOT")
    if fixed:
        root, keep = Path(fixed), True
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
    else:
        root = Path(tempfile.mkdtemp(prefix=f"wdc-bench-{prefix}-"))
    # `dagster` commands insist that DAGSTER_HOME exists
    (root / "dagster_home").mkdir(exist_ok=True)
    try:
        with environment(isolated_lake_env(root)):
            yield root
    finally:
        if not keep:
            subprocess.run(["rm", "-rf", str(root)], check=False)


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram_gib = 0.0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                ram_gib = int(line.split()[1]) / 1024**2
                break
    except OSError:
        pass
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    try:
        # other work on the machine while measuring (1/5/15-minute run-queue averages)
        load = Path("/proc/loadavg").read_text().split()[:3]
    except OSError:
        load = []
    return {
        "load_average": " ".join(load),
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "ram_gib": round(ram_gib, 1),
        "python": platform.python_version(),
        "packages": versions,
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def descendants(pid: int) -> list[int]:
    found, stack = [], [pid]
    while stack:
        current = stack.pop()
        try:
            tasks = Path(f"/proc/{current}/task").iterdir()
            children = [
                int(child) for task in tasks for child in (task / "children").read_text().split()
            ]
        except (OSError, ValueError):
            children = []
        found.extend(children)
        stack.extend(children)
    return found


@dataclass
class ProcessRun:
    """A finished subprocess: exit code, wall time, output, and its memory high-water marks."""

    returncode: int
    seconds: float
    stdout: str
    stderr: str
    # peak of the sum of the RSS of the process and all its descendants, sampled
    peak_tree_rss_mib: float
    # the top process's own peak (kernel's ru_maxrss, exact)
    peak_main_rss_mib: float
    # peak of the largest single descendant (e.g. one dbt invocation)
    peak_child_rss_mib: float
    samples: list[tuple[float, float]] = field(default_factory=list)
    # user + system CPU of the process and the descendants it reaped (wait4's rusage): what a
    # busy machine inflates least, unlike the wall time
    cpu_seconds: float = 0.0


def run_process(
    command: Sequence[str],
    env: Mapping[str, str] | None = None,
    cwd: Path = PROJECT_ROOT,
    sample_every: float = 0.05,
    timeout: float | None = None,
) -> ProcessRun:
    """Run `command`, sampling the RSS of its process tree every `sample_every` seconds."""
    started = time.perf_counter()
    with (
        tempfile.TemporaryFile("w+") as out,
        tempfile.TemporaryFile("w+") as err,
    ):
        process = subprocess.Popen(
            list(command), cwd=cwd, env=dict(env or os.environ), stdout=out, stderr=err, text=True
        )
        peaks = {"tree": 0, "child": 0}
        samples: list[tuple[float, float]] = []
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                children = descendants(process.pid)
                child_rss = [rss_kib(pid) for pid in children]
                total = rss_kib(process.pid) + sum(child_rss)
                peaks["tree"] = max(peaks["tree"], total)
                peaks["child"] = max(peaks["child"], max(child_rss, default=0))
                samples.append((time.perf_counter() - started, total / 1024))
                done.wait(sample_every)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            _, status, usage = os.wait4(process.pid, 0)
        except ChildProcessError:  # pragma: no cover - already reaped
            status, usage = 0, None
        seconds = time.perf_counter() - started
        done.set()
        sampler.join()
        process.returncode = os.waitstatus_to_exitcode(status)
        if timeout is not None and seconds > timeout:
            log.warning("%s took %.0fs (over the %.0fs budget)", command[0], seconds, timeout)
        out.seek(0)
        err.seek(0)
        main_peak = usage.ru_maxrss / 1024 if usage else 0.0
        return ProcessRun(
            returncode=process.returncode,
            seconds=seconds,
            stdout=out.read(),
            stderr=err.read(),
            peak_tree_rss_mib=max(peaks["tree"] / 1024, main_peak),
            peak_main_rss_mib=main_peak,
            peak_child_rss_mib=peaks["child"] / 1024,
            samples=samples,
            cpu_seconds=(usage.ru_utime + usage.ru_stime) if usage else 0.0,
        )


def check(run: ProcessRun, what: str) -> ProcessRun:
    """Fail loudly (with the tail of its output) when a measured command failed."""
    if run.returncode != 0:
        tail = "\n".join((run.stdout + run.stderr).splitlines()[-40:])
        raise SystemExit(f"{what} failed with exit code {run.returncode}:\n{tail}")
    return run


def python_command(*args: str) -> list[str]:
    """This interpreter (the project's venv) running `args`."""
    return [sys.executable, *args]


def comma_list(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def domains_arg(domains: Sequence[str] | None) -> list[str]:
    """`wdc materialize` arguments for a subset of domains (all when empty)."""
    return ["--domains", ",".join(domains)] if domains else []


def materialize_day(
    day: dt.date,
    scale_factor: float,
    seed: int,
    domains: Sequence[str] | None,
    what: str,
    log_level: str = "WARNING",
) -> ProcessRun:
    """One day of the mesh through `wdc materialize` in a fresh process (a nightly run), timed;
    the benchmark stops when it fails."""
    command = python_command(
        "-m", "wdc_orchestration.cli", "materialize",
        "--start", day.isoformat(), "--end", day.isoformat(),
        "--scale-factor", str(scale_factor), "--seed", str(seed),
        "--log-level", log_level, *domains_arg(domains),
    )  # fmt: skip
    return check(run_process(command), what)


@dataclass(frozen=True)
class RunTimeline:
    """Epoch seconds of the last run of an instance: its start and end, and each step's."""

    started: float
    ended: float
    steps: list[tuple[str, float, float]]  # (step key, start, end)
    messages: list[str] = field(default_factory=list)  # the steps' log lines (context.log)


def last_run_timeline(dagster_home: Path) -> RunTimeline:
    """The timeline of the last run recorded in `dagster_home`, from its event log."""
    import dagster as dg

    os.environ["DAGSTER_HOME"] = str(dagster_home)
    with dg.DagsterInstance.get() as instance:
        (run,) = instance.get_runs(limit=1)
        starts: dict[str, float] = {}
        steps: list[tuple[str, float, float]] = []
        messages: list[str] = []
        started = ended = None
        for record in instance.all_logs(run.run_id):
            event = record.dagster_event
            if event is None:
                if record.user_message:
                    messages.append(record.user_message)
                continue
            kind = event.event_type
            if kind == dg.DagsterEventType.RUN_START:
                started = record.timestamp
            elif kind in (dg.DagsterEventType.RUN_SUCCESS, dg.DagsterEventType.RUN_FAILURE):
                ended = record.timestamp
            elif kind == dg.DagsterEventType.STEP_START:
                starts[event.step_key] = record.timestamp
            elif kind in (dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE) and (
                event.step_key in starts
            ):
                steps.append((event.step_key, starts[event.step_key], record.timestamp))
    assert started is not None and ended is not None, "the run has no start/end events"
    return RunTimeline(started, ended, steps, messages)


def format_table(rows: Sequence[Mapping[str, Any]]) -> str:
    if not rows:
        return "(no rows)\n"
    columns = list(dict.fromkeys(key for row in rows for key in row))

    def cell(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:,.2f}" if abs(value) < 1000 else f"{value:,.0f}"
        if isinstance(value, int) and not isinstance(value, bool):
            return f"{value:,}"
        return "" if value is None else str(value)

    cells = [[cell(row.get(column)) for column in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    lines = [" | ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines.append("-+-".join("-" * w for w in widths))
    lines += [" | ".join(v.rjust(w) for v, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(lines) + "\n"


def report(benchmark: str, rows: Sequence[Mapping[str, Any]], **figures: Any) -> dict[str, Any]:
    """Write the table and the JSON line to stdout; return the JSON document."""
    document = {"benchmark": benchmark, "machine": machine(), "rows": list(rows), **figures}
    sys.stdout.write(f"\n== {benchmark} ==\n")
    sys.stdout.write(format_table(rows))
    for key, value in figures.items():
        if not isinstance(value, list | dict):
            sys.stdout.write(f"{key}: {value}\n")
    sys.stdout.write(JSON_PREFIX + json.dumps(document, default=str) + "\n")
    sys.stdout.flush()
    return document


def parse_report(stdout: str) -> list[dict[str, Any]]:
    """Every JSON report line in a benchmark's output."""
    return [
        json.loads(line.removeprefix(JSON_PREFIX))
        for line in stdout.splitlines()
        if line.startswith(JSON_PREFIX)
    ]


def target(value: float, limit: float, higher_is_better: bool) -> str:
    met = value >= limit if higher_is_better else value <= limit
    return "met" if met else "MISSED"
