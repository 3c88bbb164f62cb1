"""Benchmark: the storage back-ends, in one run on the same machine — the embedded default (a SQLite
DuckLake catalog, a SQLite Dagster instance) against PostgreSQL (the DuckLake catalog and the
Dagster instance on a private PostgreSQL cluster); the lake is a local folder in both, so only the
catalog and the instance differ.

Per scale factor (default SF 1 and SF 10) and back-end, on a fresh lake:
- the first day through `wdc materialize` (one process), wall time and peak RSS of its tree;
- the next day as a night: the five `<domain>_daily` jobs launched at once through `dagster dev`
  (the daemon runs them; the domains' dbt steps queue in the `ducklake` pool on SQLite, in one
  pool per domain on PostgreSQL unless WDC_DUCKLAKE_POOL=single is set), timed
  from the first launch to the end of the last run, with the peak RSS of the server's tree.

Then one day at each `--one-day` scale factor (default SF 100) through `wdc materialize` on both
back-ends: its time against the next smaller first day measured (linear growth means time ratio
<= volume ratio) and its peak RSS against 4 GiB.

    uv run python -m bench.storage
    uv run python -m bench.storage --scale-factors 0.01 --one-day 0.1   # a quick look
    uv run python -m bench.storage --scale-factors --one-day 10 100     # the single days only

PostgreSQL: the cluster is started from the machine's server binaries as in the tests
(tests/infra.py: initdb as the `postgres` user into a temporary folder, a free loopback port).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

from bench.common import (
    descendants,
    log,
    materialize_day,
    report,
    rss_kib,
    setup_logging,
    target,
    temp_lake,
)
from bench.nightly import daemon_path
from wdc_orchestration.governance.pseudonymisation import DEVELOPMENT_KEY, KEY_VARIABLE
from wdc_orchestration.settings import environment

BACKENDS = ("sqlite", "postgres")
GIB_MIB = 1024.0
RSS_LIMIT_GIB = 4.0


@contextmanager
def backend_environment(backend: str, postgres: Any, name: str) -> Iterator[None]:
    """The settings of `backend` on top of the temporary lake's (SQLite: as they are)."""
    if backend == "sqlite":
        yield
        return
    catalog = postgres.create_database(f"{name}_catalog")
    postgres.create_database(f"{name}_dagster")
    with environment(
        {
            "WDC_DUCKLAKE_CATALOG": f"postgres:{catalog}",
            "DAGSTER_PG_HOST": postgres.host,
            "DAGSTER_PG_PORT": str(postgres.port),
            "DAGSTER_PG_DB": f"{name}_dagster",
            "DAGSTER_PG_USERNAME": "postgres",
            "WDC_DBT_THREADS": "",
            # A PostgreSQL catalog is remote storage: the public development key is only the
            # fallback for an all-local mesh, so the bench names it (comparable with SQLite's).
            KEY_VARIABLE: os.environ.get(KEY_VARIABLE) or DEVELOPMENT_KEY,
        }
    ):
        yield


class ChildrenSampler:
    """Peak RSS of this process's descendants (the `dagster dev` tree: webserver, daemon, code
    servers, the runs), sampled in a thread while the block runs."""

    def __init__(self, every: float = 0.2) -> None:
        self._every = every
        self.peak_mib = 0.0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._done.is_set():
            total = sum(rss_kib(child) for child in descendants(os.getpid()))
            self.peak_mib = max(self.peak_mib, total / 1024)
            self._done.wait(self._every)

    def __enter__(self) -> ChildrenSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()


def nightly(
    backend: str, scale_factor: float, seed: int, day: dt.date, postgres: Any
) -> dict[str, Any]:
    before = day - dt.timedelta(days=1)
    name = f"sf{str(scale_factor).replace('.', '_')}"
    with (
        temp_lake(f"storage-{backend}-{name}") as root,
        backend_environment(backend, postgres, f"nightly_{name}"),
    ):
        log.info(
            "%s, SF %s: the first day (%s) through wdc materialize",
            backend,
            scale_factor,
            before,
        )
        first = materialize_day(before, scale_factor, seed, None, f"{backend} first day")
        log.info("%s, SF %s: the night of %s, five daily jobs at once", backend, scale_factor, day)
        with ChildrenSampler() as sampler:
            seconds, runs = daemon_path(root, day, "in_process")
    return {
        "backend": backend,
        "scale_factor": scale_factor,
        "first_day_s": round(first.seconds, 1),
        "first_day_peak_gib": round(first.peak_tree_rss_mib / GIB_MIB, 2),
        "night_s": round(seconds, 1),
        "night_peak_gib": round(sampler.peak_mib / GIB_MIB, 2),
        "night_runs": runs,
    }


def one_day(backend: str, scale_factor: float, seed: int, day: dt.date, postgres: Any) -> dict:
    name = f"sf{str(scale_factor).replace('.', '_')}"
    with (
        temp_lake(f"storage-{backend}-{name}"),
        backend_environment(backend, postgres, f"one_day_{name}"),
    ):
        log.info("%s, SF %s: one day through wdc materialize", backend, scale_factor)
        run = materialize_day(day, scale_factor, seed, None, f"{backend} SF {scale_factor}")
    return {
        "backend": backend,
        "scale_factor": scale_factor,
        "first_day_s": round(run.seconds, 1),
        "first_day_peak_gib": round(run.peak_tree_rss_mib / GIB_MIB, 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--scale-factors", type=float, nargs="*", default=[1.0, 10.0], help="nights (none: skip)"
    )
    parser.add_argument("--one-day", type=float, nargs="*", default=[100.0])
    parser.add_argument("--backends", nargs="+", choices=BACKENDS, default=list(BACKENDS))
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--day", type=dt.date.fromisoformat, default=dt.date(2026, 11, 2))
    args = parser.parse_args(argv)
    setup_logging()
    os.environ["WDC_SEED"] = str(args.seed)

    from tests.infra import postgres_cluster

    cluster = postgres_cluster() if "postgres" in args.backends else nullcontext(None)
    nights: list[dict[str, Any]] = []
    days: list[dict[str, Any]] = []
    started = time.perf_counter()
    with cluster as postgres:
        for scale_factor in sorted(args.scale_factors):
            for backend in args.backends:
                os.environ["WDC_SCALE_FACTOR"] = str(scale_factor)
                nights.append(nightly(backend, scale_factor, args.seed, args.day, postgres))
        for scale_factor in sorted(args.one_day):
            for backend in args.backends:
                os.environ["WDC_SCALE_FACTOR"] = str(scale_factor)
                days.append(one_day(backend, scale_factor, args.seed, args.day, postgres))

    targets: dict[str, str] = {}
    ratios: dict[str, float] = {}
    for backend in args.backends:
        # every first day through `wdc materialize`, the nights' and the single days'
        measured = [row for row in nights + days if row["backend"] == backend]
        for row in (r for r in days if r["backend"] == backend):
            smaller = [r for r in measured if r["scale_factor"] < row["scale_factor"]]
            targets[f"{backend}: peak RSS <= {RSS_LIMIT_GIB} GiB at SF {row['scale_factor']:g}"] = (
                target(row["first_day_peak_gib"], RSS_LIMIT_GIB, False)
            )
            if not smaller:
                continue
            base = max(smaller, key=lambda r: r["scale_factor"])
            volume = row["scale_factor"] / base["scale_factor"]
            growth = row["first_day_s"] / base["first_day_s"]
            label = f"{backend}: SF {row['scale_factor']:g} vs SF {base['scale_factor']:g}"
            ratios[f"{label} time ratio (volume {volume:g}x)"] = round(growth, 2)
            targets[f"{label}: time grows no faster than volume"] = target(growth, volume, False)
    if "sqlite" in args.backends and "postgres" in args.backends:
        for scale_factor in sorted(args.scale_factors):
            pair = {r["backend"]: r for r in nights if r["scale_factor"] == scale_factor}
            ratios[f"night at SF {scale_factor:g}: postgres / sqlite"] = round(
                pair["postgres"]["night_s"] / pair["sqlite"]["night_s"], 2
            )
    table = [{k: v for k, v in row.items() if k != "night_runs"} for row in nights + days]
    report(
        "storage",
        table,
        day=args.day.isoformat(),
        ratios=ratios,
        runs={f"{r['backend']} SF {r['scale_factor']:g}": r["night_runs"] for r in nights},
        total_s=round(time.perf_counter() - started, 1),
        targets=targets,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
