"""`wdc contracts sync`: the dbt YAML's contract part is written from the descriptors, the tests
and constraints stay, a second sync changes nothing, and the repository is in sync (CI guard)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from wdc_orchestration.cli import main
from wdc_orchestration.dbt.project import load_manifest
from wdc_orchestration.governance.descriptor import load_descriptors
from wdc_orchestration.governance.policies.contract import check_contract
from wdc_orchestration.settings import DBT_PROJECT_DIR, PROJECT_ROOT, get_settings

MARTS = "models/sales/marts/_sales__marts.yml"


def _copy_project(tmp_path: Path) -> tuple[Path, Path]:
    domains, project = tmp_path / "domains", tmp_path / "dbt_project"
    shutil.copytree(PROJECT_ROOT / "domains", domains, ignore=shutil.ignore_patterns("*.py*"))
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs"))
    return domains, project


def dbt_parse(project: Path) -> dict[str, Any]:
    dbt = Path(sys.executable).with_name("dbt")
    done = subprocess.run(
        [str(dbt), "parse", "--project-dir", str(project), "--profiles-dir", str(project)],
        env={**os.environ, **get_settings().dbt_env()},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads((project / "target" / "manifest.json").read_text())


def _tests_and_constraints(marts: Path) -> dict[str, Any]:
    """What sync must keep: per model, its data tests and each column's tests/constraints."""
    models = yaml.safe_load(marts.read_text())["models"]
    return {
        m["name"]: {
            "model": m.get("data_tests"),
            "columns": {
                c["name"]: (c.get("data_tests"), c.get("constraints")) for c in m["columns"]
            },
        }
        for m in models
    }


def test_the_repository_dbt_yaml_is_what_the_descriptors_say(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Running sync on the current repository would change nothing (and --check writes nothing)."""
    before = {p: p.read_text() for p in DBT_PROJECT_DIR.glob("models/*/marts/*.yml")}
    assert main(["contracts", "sync", "--check"]) == 0
    assert capsys.readouterr().out == ""
    assert {p: p.read_text() for p in before} == before


def test_sync_writes_the_contract_part_keeps_the_tests_and_is_idempotent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    domains, project = _copy_project(tmp_path)
    marts = project / MARTS
    kept = _tests_and_constraints(marts)
    path = domains / "sales/products/fct_orders.yaml"
    data = yaml.safe_load(path.read_text())
    data["schema"][0]["description"] = "Every order, one row each, in BRL (edited in the contract)."
    columns = {c["name"]: c for c in data["schema"][0]["properties"]}
    columns["channel"]["description"] = "Where the order was placed (site, app, ...)."
    columns["status"]["classification"] = "confidential"
    path.write_text(yaml.safe_dump(data, sort_keys=False))

    # the guard: before the sync, the drift check names the differences
    edited = load_descriptors(domains)
    drift = {v.why for v in check_contract(edited, load_manifest()) if v.rule == "contract.drift"}
    assert "column channel has a different description in dbt" in drift
    assert any(why.startswith("column status is classified confidential") for why in drift)

    common = ["--domains-dir", str(domains), "--dbt-project-dir", str(project)]
    assert main(["contracts", "sync", "--check", *common]) == 1
    assert capsys.readouterr().out.splitlines() == [f"out of date: {marts}"]
    assert _tests_and_constraints(marts) == kept  # --check wrote nothing

    assert main(["contracts", "sync", *common]) == 0
    assert capsys.readouterr().out.splitlines() == [f"wrote {marts}"]
    models = yaml.safe_load(marts.read_text())["models"]
    orders = next(m for m in models if m["name"] == "fct_orders")
    dbt_columns = {c["name"]: c for c in orders["columns"]}
    assert orders["description"].strip() == data["schema"][0]["description"]
    assert dbt_columns["channel"]["description"] == "Where the order was placed (site, app, ...)."
    assert dbt_columns["status"]["meta"] == {"classification": "confidential"}
    assert dbt_columns["customer_id"]["meta"] == {
        "classification": "personal",
        "privacy": "pseudonymised",
    }
    enforced = {"access": "public", "group": "sales", "contract": {"enforced": True}}
    assert orders["config"] == enforced
    assert _tests_and_constraints(marts) == kept

    text = marts.read_text()
    assert main(["contracts", "sync", *common]) == 0
    assert capsys.readouterr().out == ""
    assert marts.read_text() == text

    # dbt reads the written YAML, and the drift check finds nothing left
    assert check_contract(load_descriptors(domains), dbt_parse(project)) == []


def test_sync_refuses_an_unknown_product_or_project(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert main(["contracts", "sync", "--check", "--product", "sales.nope"]) == 2
    assert "unknown product(s) ['sales.nope']" in caplog.text
    assert main(["contracts", "sync", "--dbt-project-dir", str(tmp_path / "none")]) == 2
    assert f"no dbt project at {tmp_path / 'none'}" in caplog.text
