"""Two lakes of the embedded default compared product by product: every SQL port and every file
port row by row (a multiset difference both ways), and the kept history the state products are
computed from. How the time-model tests say "the same as a serial run"."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb

from tests.conftest import TEST_SCALE_FACTOR
from wdc_orchestration.dbt.project import load_manifest
from wdc_orchestration.governance.descriptor import load_descriptors
from wdc_orchestration.settings import PROJECT_ROOT, get_settings, isolated_lake_env

WDC = Path(sys.executable).parent / "wdc"


def public_products() -> list[str]:
    return sorted(load_descriptors())


def kept_histories() -> list[str]:
    """`<domain>.<model>` of the private models the platform keeps across runs (incremental)."""
    return sorted(
        f"{node['fqn'][1]}.{node['name']}"
        for node in load_manifest()["nodes"].values()
        if node["resource_type"] == "model"
        and node.get("access") != "public"
        and node["config"].get("materialized") == "incremental"
    )


@dataclass(frozen=True)
class Lake:
    """A self-contained lake (lake folder, SQLite catalog, Dagster instance) under `root`."""

    root: Path

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        return {
            **os.environ,
            **isolated_lake_env(self.root),
            "WDC_SEED": "42",
            "WDC_SCALE_FACTOR": str(TEST_SCALE_FACTOR),
            **(extra or {}),
        }

    def start(self, *args: str, log_name: str = "wdc") -> subprocess.Popen[bytes]:
        """`wdc <args>` on this lake, in its own process; output to a file under the root."""
        self.root.mkdir(parents=True, exist_ok=True)
        out = open(self.root / f"{log_name}.out", "ab")  # noqa: SIM115 - the child owns it
        return subprocess.Popen(
            [str(WDC), *args, "--log-level", "ERROR"],
            cwd=PROJECT_ROOT,
            env=self.env(),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )

    def materialize_at_once(self, *days: str, extra: Sequence[str] = ()) -> list[int]:
        """One `wdc materialize` per day, all started together; their exit codes."""
        children = [
            self.start("materialize", "--start", day, *extra, log_name=f"materialize-{day}")
            for day in days
        ]
        return [child.wait(timeout=1800) for child in children]

    def output(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.root.glob("*.out")))

    def catalog(self) -> Path:
        return self.root / "catalog" / "wdc.sqlite"

    def data_path(self) -> str:
        return str(self.root / "lake" / "lakehouse") + "/"


@contextmanager
def attached(**lakes: Lake) -> Iterator[duckdb.DuckDBPyConnection]:
    """Plain DuckDB with each lake's catalog attached read-only under its keyword."""
    settings = get_settings()
    con = duckdb.connect(
        config={
            "extension_directory": str(settings.duckdb_extension_dir),
            "autoinstall_known_extensions": False,
        }
    )
    try:
        for alias, lake in lakes.items():
            con.execute(
                f"ATTACH 'ducklake:sqlite:{lake.catalog()}' AS {alias} "
                f"(DATA_PATH '{lake.data_path()}', READ_ONLY)"
            )
        yield con
    finally:
        con.close()


def _differences(con: duckdb.DuckDBPyConnection, left: str, right: str) -> tuple[int, int, int]:
    """(rows of left, rows only in left, rows only in right): multiset difference both ways."""
    (rows,) = con.execute(f"select count(*) from {left}").fetchone()
    (only_left,) = con.execute(
        f"select count(*) from (select * from {left} except all select * from {right})"
    ).fetchone()
    (only_right,) = con.execute(
        f"select count(*) from (select * from {right} except all select * from {left})"
    ).fetchone()
    return rows, only_left, only_right


def file_port_files(lake: Lake, product: str) -> list[str]:
    """The files the product's file port (its current major) points at now."""
    d = load_descriptors()[product]
    prefix = lake.root / "lake" / d.file_port_prefix
    pointer = json.loads((prefix / "current.json").read_text())
    return [str(prefix / name) for name in pointer["files"]]


def _files(files: list[str]) -> str:
    return "read_parquet([" + ", ".join(f"'{f}'" for f in files) + "])"


def differences(actual: Lake, expected: Lake) -> dict[str, tuple[int, int, int]]:
    """Per port (`sql:<product>`, `files:<product>`, `history:<model>`): (rows in `actual`, rows
    only in `actual`, rows only in `expected`)."""
    found = {}
    with attached(actual=actual, expected=expected) as con:
        for product in public_products():
            found[f"sql:{product}"] = _differences(con, f"actual.{product}", f"expected.{product}")
            found[f"files:{product}"] = _differences(
                con,
                _files(file_port_files(actual, product)),
                _files(file_port_files(expected, product)),
            )
        for model in kept_histories():
            found[f"history:{model}"] = _differences(con, f"actual.{model}", f"expected.{model}")
    return found


def assert_same_products(actual: Lake, expected: Lake) -> None:
    """Every product of `actual`, through both ports, equals `expected`'s row by row."""
    found = differences(actual, expected)
    different = {port: d for port, d in found.items() if d[1] or d[2]}
    empty = sorted(port for port, d in found.items() if d[0] == 0)
    assert not different, f"ports that differ (rows, only here, only in the reference): {different}"
    assert not empty, f"empty ports: {empty}"
