"""`dg`, Dagster's project CLI, on this repository: dg.toml's projects are the domains of
workspace.yaml, `dg check defs` loads all five, and `dg list defs` in a domain lists its own."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from wdc_orchestration.mesh.workspace import domain_modules
from wdc_orchestration.settings import PROJECT_ROOT

DG_TIMEOUT_S = 600  # five code locations loaded in turn on two shared cores


def _dg(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    dg = Path(sys.executable).parent / "dg"
    assert dg.exists(), "dg is not installed: uv sync (dagster-dg-cli is a dev dependency)"
    return subprocess.run(
        [str(dg), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=DG_TIMEOUT_S,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture(scope="module")
def dg_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """dg with a throw-away Dagster home, telemetry off, and no colour codes in its output."""
    home = tmp_path_factory.mktemp("dg_home")
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return {**os.environ, "DAGSTER_HOME": str(home), "NO_COLOR": "1", "COLUMNS": "200"}


def test_dg_toml_lists_one_project_per_workspace_yaml_location() -> None:
    workspace = tomllib.loads((PROJECT_ROOT / "dg.toml").read_text())
    assert workspace["directory_type"] == "workspace"
    paths = [Path(p["path"]) for p in workspace["workspace"]["projects"]]
    names = []
    for path in paths:
        project = tomllib.loads((PROJECT_ROOT / path / "dg.toml").read_text())
        assert project["directory_type"] == "project"
        names.append(project["project"]["code_location_name"])
    assert names == list(domain_modules()), "dg.toml and workspace.yaml list other domains"
    assert [p.name for p in paths] == names


def test_dg_check_defs_loads_every_domain(dg_env: dict[str, str]) -> None:
    result = _dg("check", "defs", cwd=PROJECT_ROOT, env=dg_env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All definitions loaded successfully" in result.stdout + result.stderr


def test_dg_list_defs_in_a_domain_lists_its_assets(dg_env: dict[str, str]) -> None:
    import json

    result = _dg("list", "defs", "--json", cwd=PROJECT_ROOT / "domains" / "sales", env=dg_env)
    assert result.returncode == 0, result.stdout + result.stderr
    listed = json.loads(result.stdout)
    own = {a["asset_key"]: a for a in listed["assets"] if a["asset_key"].startswith("sales/")}
    assert "sales/fct_orders" in own and "sales/raw/orders" in own
    assert {a["group_name"] for a in own.values()} == {"sales"}
    assert all(a["is_executable"] for a in own.values())
