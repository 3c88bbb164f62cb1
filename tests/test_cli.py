"""The `wdc` command line as a user meets it: help everywhere, one-line errors for bad input, a
quiet exit, progress and a summary that agree with what the run recorded, options for dagster dev.
(`wdc dev` is started for real in tests/test_nightly.py; tests/nightly_ui.py drives its UI.)"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from tests.conftest import DAY_1, DAY_2, MeshLake, started_run
from wdc_orchestration.cli import build_parser, dagster_dev_command, main, parse_args
from wdc_orchestration.mesh.registry import domain_modules
from wdc_orchestration.settings import PROJECT_ROOT, isolated_lake_env

LEAK_WARNING = "leaked semaphore"


def _command_paths(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> list:
    paths = [path]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                paths += _command_paths(sub, (*path, name))
    return paths


COMMANDS = _command_paths(build_parser())


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "wdc")
def test_every_command_has_help(path: tuple[str, ...], capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exited:
        main([*path, "--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: {' '.join(('wdc', *path))}")
    assert "-h, --help" in out


def test_the_commands_include_doctor_dev_and_materialize() -> None:
    assert {("materialize",), ("dev",), ("doctor",), ("policy", "check"), ("catalog",)} <= set(
        COMMANDS
    )


def _wdc(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    wdc = Path(sys.executable).parent / "wdc"
    return subprocess.run(
        [str(wdc), *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture(scope="module")
def fresh_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A lake that does not exist (yet): the user's first steps."""
    root = tmp_path_factory.mktemp("fresh")
    return {**os.environ, **isolated_lake_env(root), "WDC_SCALE_FACTOR": "0.01"}


BAD_INPUT = {
    "bad date": (["materialize", "--start", "2026-13-01"], "is not a date (YYYY-MM-DD)"),
    "end before start": (
        ["materialize", "--start", "2026-11-02", "--end", "2026-11-01"],
        "--end 2026-11-01 is before --start 2026-11-02",
    ),
    "unknown domain": (
        ["materialize", "--start", DAY_1, "--domains", "sales,marketing"],
        f"unknown domain(s) marketing; known: {', '.join(domain_modules())}",
    ),
    "unknown defect": (
        ["materialize", "--start", DAY_1, "--defects", "gremlins"],
        "unknown defect(s) ['gremlins']",
    ),
    "unknown option": (["materialize", "--start", DAY_1, "--days", "3"], "unrecognized arguments"),
    "catalog, missing lake": (["catalog"], "no lake at "),
    "policy check, missing lake": (["policy", "check"], "no lake at "),
}


@pytest.mark.parametrize("args,message", BAD_INPUT.values(), ids=BAD_INPUT.keys())
def test_bad_input_is_one_clear_line_and_exit_2(
    args: list[str], message: str, fresh_env: dict[str, str]
) -> None:
    result = _wdc(args, fresh_env)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert len(lines) == 1, lines
    assert message in lines[0]
    assert result.stdout == ""
    assert not Path(fresh_env["WDC_LAKE_URL"]).exists(), "bad input must not create the lake"


def test_wdc_exits_fast_without_the_leaked_semaphore_warning(fresh_env: dict[str, str]) -> None:
    """The control reproduces the warning (dbt's spawn-context locks, then `os._exit` without
    multiprocessing's finalizers), so the check on `wdc` itself could fail."""
    control = subprocess.run(
        [
            sys.executable,
            "-c",
            "import os, sys\n"
            "from wdc_orchestration.cli import main\n"
            "code = main(['policy', 'check', '--no-data'])\n"
            "sys.stdout.flush(); sys.stderr.flush(); os._exit(code)\n",
        ],
        cwd=PROJECT_ROOT,
        env=fresh_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert control.returncode == 0, control.stderr
    assert LEAK_WARNING in control.stderr, "the control no longer leaks: is dbt still loaded?"

    result = _wdc(["policy", "check", "--no-data"], fresh_env)
    assert result.returncode == 0, result.stderr
    assert LEAK_WARNING not in result.stderr


# --- wdc dev ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv,passed",
    [
        (["dev", "-p", "3001"], ["-p", "3001"]),
        (["dev", "--port", "3001", "--host", "0.0.0.0"], ["--port", "3001", "--host", "0.0.0.0"]),
        (["dev", "--", "-p", "3001"], ["-p", "3001"]),
        (["dev", "--port=3001", "--code-server-log-level", "info"], None),
        (["dev"], []),
    ],
)
def test_wdc_dev_passes_every_option_on_to_dagster_dev(
    argv: list[str], passed: list[str] | None
) -> None:
    args = parse_args(argv)
    expected = argv[1:] if passed is None else passed
    assert args.dagster_args == expected
    command = dagster_dev_command(args.dagster_args)
    assert command == ["dagster", "dev", "-w", str(PROJECT_ROOT / "workspace.yaml"), *expected]


def test_wdc_dev_adds_no_workspace_when_one_is_given() -> None:
    args = parse_args(["dev", "-w", "other.yaml", "-p", "3001"])
    assert dagster_dev_command(args.dagster_args) == [
        "dagster",
        "dev",
        "-w",
        "other.yaml",
        "-p",
        "3001",
    ]


def test_other_commands_still_refuse_unknown_options(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exited:
        parse_args(["doctor", "-p", "3001"])
    assert exited.value.code == 2
    assert "unrecognized arguments: -p 3001" in capsys.readouterr().err


# --- progress and the summary -------------------------------------------------------------------


def _run_record(instance: dg.DagsterInstance, run_id: str) -> dict[str, object]:
    """What the instance recorded for the run: the truth the summary must match."""
    events = [e.dagster_event for e in instance.all_logs(run_id) if e.dagster_event]
    materializations = [e.materialization for e in events if e.is_step_materialization]
    evaluations = [
        e.event_specific_data for e in events if e.event_type_value == "ASSET_CHECK_EVALUATION"
    ]
    row_counts = [m.metadata.get("dagster/row_count") for m in materializations]
    return {
        "steps": sorted(e.step_key for e in events if e.event_type_value == "STEP_SUCCESS"),
        "assets": len(materializations),
        "rows": sum(int(v.value) for v in row_counts if v is not None),
        "passed": sum(1 for e in evaluations if e.passed),
    }


def test_materialize_shows_the_steps_and_a_summary_that_match_the_run(
    two_days: MeshLake, capsys: pytest.CaptureFixture, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="wdc_orchestration.console.progress")
    with started_run() as started:
        exit_code = main(["materialize", "--start", DAY_2, "--domains", "customers"])
    out = capsys.readouterr().out
    assert exit_code == 0, out

    instance = dg.DagsterInstance.get()
    run = instance.get_run_by_id(started.run_id)
    truth = _run_record(instance, run.run_id)

    progress = [r.getMessage() for r in caplog.records if r.name.endswith("progress")]
    steps = len(truth["steps"])
    assert progress[0] == f"day 1/1 {DAY_2}: {steps} steps"
    logged = sorted(m.split()[5] for m in progress[1:])
    assert logged == truth["steps"]
    assert progress[-1].startswith(f"day 1/1 {DAY_2}: step {steps}/{steps} ")

    row = next(line.split() for line in out.splitlines() if line.strip().startswith(DAY_2))
    assert row[:7] == [
        DAY_2,
        "ok",
        str(truth["assets"]),
        f"{truth['rows']:,}",
        str(truth["passed"]),
        "0",
        "0",
    ]
    assert row[-1] == run.run_id[:8]
    assert f"log:       {Path(os.environ['WDC_LOG_DIR']) / 'wdc.log'}" in out
    assert f"incidents: {two_days.root / 'lake' / 'quality' / 'incidents'} (none new)" in out


def test_a_failed_day_is_failed_in_the_summary_with_a_link_to_its_run(
    two_days: MeshLake, capsys: pytest.CaptureFixture
) -> None:
    # Landing a landed day with other parameters is refused (raw data is immutable).
    args = ["materialize", "--start", DAY_1, "--domains", "customers", "--scale-factor", "0.02"]
    with started_run() as run:
        assert main([*args, "--log-level", "CRITICAL"]) == 1
    out = capsys.readouterr().out
    row = next(line.split() for line in out.splitlines() if line.strip().startswith(DAY_1))
    assert row[1] == "FAILED"
    assert f"failed:    http://localhost:3000/runs/{run.run_id}" in out
