"""Every command with the bad input a new user types: one line on stderr that says what is wrong,
exit code 2, and nothing written (no lake folder, no catalog, no Dagster instance or run).
Run as `wdc` runs (a subprocess): the one line is what reaches a terminal, not a log record.
tests/test_cli.py's table has the first cases (bad dates, unknown domains and defects)."""

from __future__ import annotations

import argparse
import math
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import DAY_1
from wdc_orchestration.raw.generation.request import GenerationRequest
from wdc_orchestration.raw.generation.volume import MAX_SCALE_FACTOR, SCALE_FACTOR_RANGE
from wdc_orchestration.raw.read_set import manifest_json
from wdc_orchestration.settings import PROJECT_ROOT, isolated_lake_env

DOMAINS = PROJECT_ROOT / "domains"
CONTRACT = "sales/products/fct_orders.yaml"  # a contract the broken copies break


def _file(root: Path) -> Path:
    path = root / "a_file"
    path.write_text("not a folder")
    return path


def _domains_with(root: Path, relative: str, content: bytes) -> Path:
    """A copy of the domains' contracts with one file replaced by `content`."""
    copy = root / "domains"
    shutil.copytree(DOMAINS, copy, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    (copy / relative).write_bytes(content)
    return copy


# Each case: (argv, extra environment, the message) built under a test's own folder `root`.
Case = Callable[[Path], tuple[list[str], dict[str, str], str]]
MATERIALIZE = ["materialize", "--start", DAY_1]
SF_MESSAGE = f"is not a scale factor: use {SCALE_FACTOR_RANGE}"

CASES: dict[str, Case] = {
    **{
        f"materialize --scale-factor {value}": (
            lambda root, value=value: (
                [*MATERIALIZE, f"--scale-factor={value}"],
                {},
                f"argument --scale-factor: '{value}' {SF_MESSAGE}",
            )
        )
        for value in ("nan", "inf", "-inf", "-1", "0", "abc", "1e9")
    },
    **{
        f"materialize WDC_SCALE_FACTOR={value}": (
            lambda root, value=value: (
                MATERIALIZE,
                {"WDC_SCALE_FACTOR": value},
                f"WDC_SCALE_FACTOR={value} {SF_MESSAGE}",
            )
        )
        for value in ("nan", "inf", "-1", "0", "1000")
    },
    "materialize WDC_SCALE_FACTOR=abc": lambda root: (
        MATERIALIZE,
        {"WDC_SCALE_FACTOR": "abc"},
        "WDC_SCALE_FACTOR='abc' is not a number",
    ),
    **{
        f"materialize WDC_SEED={value}": (
            lambda root, value=value: (
                MATERIALIZE,
                {"WDC_SEED": value},
                f"WDC_SEED={value!r} is not an integer",
            )
        )
        for value in ("1.5", "abc")
    },
    "materialize WDC_UPSTREAM_POLL_SECONDS=0": lambda root: (
        MATERIALIZE,
        {"WDC_UPSTREAM_POLL_SECONDS": "0"},
        "WDC_UPSTREAM_POLL_SECONDS='0' is not a number of seconds above 0 and at most 3600",
    ),
    "materialize WDC_RUN_MONITORING_SECONDS=abc": lambda root: (
        MATERIALIZE,
        {"WDC_RUN_MONITORING_SECONDS": "abc"},
        "WDC_RUN_MONITORING_SECONDS='abc' is not a whole number of seconds of at least 1",
    ),
    "materialize --seed abc": lambda root: (
        [*MATERIALIZE, "--seed", "abc"],
        {},
        "argument --seed: invalid int value: 'abc'",
    ),
    "materialize --log-level loud": lambda root: (
        [*MATERIALIZE, "--log-level", "loud"],
        {},
        "argument --log-level: invalid choice: 'LOUD'",
    ),
    "materialize --domains ,": lambda root: (
        [*MATERIALIZE, "--domains", ","],
        {},
        "--domains ',' names no domain",
    ),
    "materialize WDC_DUCKLAKE_POOL=both": lambda root: (
        MATERIALIZE,
        {"WDC_DUCKLAKE_POOL": "both"},
        "WDC_DUCKLAKE_POOL='both': use 'single' or 'per_domain'",
    ),
    "materialize WDC_LAKE_URL=ftp://": lambda root: (
        MATERIALIZE,
        {"WDC_LAKE_URL": "ftp://host/lake"},
        "WDC_LAKE_URL='ftp://host/lake': only local paths and s3:// are supported",
    ),
    "materialize WDC_LOG_DIR=<a file>": lambda root: (
        MATERIALIZE,
        {"WDC_LOG_DIR": str(_file(root))},
        f"WDC_LOG_DIR={root / 'a_file'}: a file is in the way of the folder",
    ),
    "doctor WDC_SEED=abc": lambda root: (
        ["doctor"],
        {"WDC_SEED": "abc"},
        "WDC_SEED='abc' is not an integer",
    ),
    "doctor --port 99999": lambda root: (
        ["doctor", "--port", "99999"],
        {},
        "argument --port: '99999' is not a port (1-65535)",
    ),
    "portal --port 0": lambda root: (
        ["portal", "--port", "0"],
        {},
        "argument --port: '0' is not a port (1-65535)",
    ),
    "portal WDC_PORTAL_AUTH=oidc": lambda root: (
        ["portal"],
        {"WDC_PORTAL_AUTH": "oidc"},
        "WDC_PORTAL_AUTH='oidc': use 'local' or 'header'",
    ),
    "portal WDC_PORTAL_AUTH=header without the proxy secret": lambda root: (
        ["portal"],
        {"WDC_PORTAL_AUTH": "header", "WDC_PORTAL_PROXY_SECRET": ""},
        "WDC_PORTAL_AUTH=header needs WDC_PORTAL_PROXY_SECRET",
    ),
    "policy check --domains-dir <missing>": lambda root: (
        ["policy", "check", "--no-data", "--domains-dir", str(root / "nope")],
        {},
        f"argument --domains-dir: {root / 'nope'} does not exist",
    ),
    "policy check --domains-dir <one domain>": lambda root: (
        ["policy", "check", "--no-data", "--domains-dir", str(DOMAINS / "sales")],
        {},
        f"{DOMAINS / 'sales'} holds no product contracts",
    ),
    "catalog --domains-dir <missing>": lambda root: (
        ["catalog", "--no-data", "--domains-dir", str(root / "nope")],
        {},
        f"argument --domains-dir: {root / 'nope'} does not exist",
    ),
    "contracts sync --domain (an abbreviation of --domains-dir)": lambda root: (
        ["contracts", "sync", "--check", "--domain", "sales"],
        {},
        "argument --domains-dir: sales does not exist",
    ),
    "policy check, a contract with a YAML syntax error": lambda root: (
        [
            "policy",
            "check",
            "--no-data",
            "--domains-dir",
            str(_domains_with(root, CONTRACT, b"name: x\n  kind: [1, 2\n")),
        ],
        {},
        f"{root / 'domains' / CONTRACT}:2:7: not valid YAML: mapping values are not allowed",
    ),
    "policy check, a contract that is not UTF-8": lambda root: (
        [
            "policy",
            "check",
            "--no-data",
            "--domains-dir",
            str(_domains_with(root, CONTRACT, b"name: caf\xe9\n")),
        ],
        {},
        f"{root / 'domains' / CONTRACT}: not UTF-8 text (byte 0xe9 at offset 9)",
    ),
    "policy check, raw retention with a YAML syntax error": lambda root: (
        [
            "policy",
            "check",
            "--no-data",
            "--domains-dir",
            str(_domains_with(root, "sales/products/_raw_retention.yaml", b"raw: [\n")),
        ],
        {},
        f"{root / 'domains' / 'sales/products/_raw_retention.yaml'}:2:1: not valid YAML",
    ),
    "policy check --manifest <missing>": lambda root: (
        ["policy", "check", "--no-data", "--manifest", str(root / "manifest.json")],
        {},
        f"argument --manifest: {root / 'manifest.json'} does not exist",
    ),
    "policy check --manifest <not JSON>": lambda root: (
        ["policy", "check", "--no-data", "--manifest", str(_file(root))],
        {},
        f"--manifest {root / 'a_file'}: not a dbt manifest.json",
    ),
    "catalog --output <missing folder>": lambda root: (
        ["catalog", "--no-data", "--output", str(root / "nope" / "catalog.md")],
        {},
        f"there is no folder {root / 'nope'} to write in",
    ),
    "quarantine retry --log-level loud": lambda root: (
        ["quarantine", "retry", "--domain", "sales", "--day", DAY_1, "--log-level", "loud"],
        {},
        "argument --log-level: invalid choice: 'LOUD'",
    ),
    "policy purge --as-of tomorrow": lambda root: (
        ["policy", "purge", "--as-of", "tomorrow"],
        {},
        "'tomorrow' is not a date (YYYY-MM-DD)",
    ),
}

# Every command that touches the lake, with WDC_LAKE_URL at a file and below one.
LAKE_COMMANDS = {
    "materialize": MATERIALIZE,
    "policy check": ["policy", "check"],
    "policy check --no-data": ["policy", "check", "--no-data"],
    "policy purge": ["policy", "purge", "--dry-run"],
    "catalog": ["catalog"],
    "quarantine list": ["quarantine", "list"],
    "quarantine retry": ["quarantine", "retry", "--domain", "sales", "--day", DAY_1],
    "portal": ["portal"],
    "portal users add": ["portal", "users", "add", "ana@wdc.example", "--domains", "finance",
                         "--password-stdin"],
    "portal users list": ["portal", "users", "list"],
    "contracts diff": ["contracts", "diff"],
}  # fmt: skip
for name, argv in LAKE_COMMANDS.items():
    CASES[f"{name} WDC_LAKE_URL=<a file>"] = lambda root, argv=argv: (
        argv,
        {"WDC_LAKE_URL": str(_file(root))},
        f"WDC_LAKE_URL={root / 'a_file'}: {root / 'a_file'} is a file, not a folder",
    )
CASES["materialize WDC_LAKE_URL=<below a file>"] = lambda root: (
    MATERIALIZE,
    {"WDC_LAKE_URL": str(_file(root) / "lake")},
    f"WDC_LAKE_URL={root / 'a_file' / 'lake'}: {root / 'a_file'} is a file, not a folder",
)


def _written(root: Path) -> list[str]:
    """What a run would have left: the lake, the catalog, a Dagster instance."""
    return sorted(name for name in ("lake", "catalog", "dagster_home") if (root / name).exists())


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_bad_input_is_one_line_exit_2_and_nothing_written(case: Case, tmp_path: Path) -> None:
    argv, extra, message = case(tmp_path)
    env = {**os.environ, **isolated_lake_env(tmp_path), "WDC_SCALE_FACTOR": "0.01", **extra}
    result = subprocess.run(
        [sys.executable, "-m", "wdc_orchestration.cli", *argv],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1, lines
    assert message in lines[0], lines[0]
    assert result.stdout == ""
    assert _written(tmp_path) == [], "bad input must write nothing"


def test_the_table_covers_every_command_that_touches_the_lake() -> None:
    from tests.test_cli import COMMANDS
    from wdc_orchestration.cli import build_parser

    def handlers(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
        """(command path, its defaults) for every command and subcommand."""
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    yield (*path, name), sub._defaults
                    yield from handlers(sub, (*path, name))

    touching = {" ".join(p) for p, d in handlers(build_parser()) if d.get("touches_lake")}
    assert touching, "no command says it touches the lake"
    assert touching <= {" ".join(p) for p in COMMANDS}
    assert touching <= {name.split(" --")[0] for name in LAKE_COMMANDS}


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, -1.0, 0.0, 1e9])
def test_no_request_and_no_manifest_can_carry_a_bad_scale_factor(value: float) -> None:
    """The last lines of defence behind the CLI (run config from the UI reaches the raw assets
    without it): the request refuses the volume, and a manifest refuses NaN/inf outright."""
    import datetime as dt

    with pytest.raises(ValueError, match="is not a scale factor"):
        GenerationRequest(date=dt.date(2026, 11, 1), scale_factor=value)
    if not math.isfinite(value):
        with pytest.raises(ValueError, match="JSON compliant"):
            manifest_json({"params": {"seed": 42, "scale_factor": value}})


def test_the_largest_scale_factor_keeps_a_days_ids_apart() -> None:
    """MAX_SCALE_FACTOR is where the simulators stop being right, not a guess: a day's ids are
    YYYYMMDD * DAILY_ID_FACTOR + a sequence number below DAILY_ID_FACTOR."""
    import datetime as dt

    from domains._shared.world import DAILY_ID_FACTOR, order_count

    busiest = max(
        order_count(dt.date(2026, 11, 1) + dt.timedelta(days=n), MAX_SCALE_FACTOR, seed)
        for n in range(7)
        for seed in (1, 42)
    )
    assert 0 < busiest < DAILY_ID_FACTOR
