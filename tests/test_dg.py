"""`dg`, Dagster's project CLI, on this repository: dg.toml's projects are the domains of
workspace.yaml, `dg check defs` loads all five, and `dg list defs` in a domain lists its own.

workspace.yaml is the registry of domains: every other file that lists them (dg.toml, each
domain's dg.toml, deploy/workspace.grpc.yaml, dbt_project.yml's folder configs) is what
`wdc workspace sync` writes from it, here and on a copy whose registry changed."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from wdc_orchestration.cli import main
from wdc_orchestration.mesh.registry import domain_modules
from wdc_orchestration.scaffold.project_files import (
    DBT_PROJECT,
    DG_WORKSPACE,
    GRPC_WORKSPACE,
    WORKSPACE,
    out_of_step,
)
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


def test_every_file_made_from_the_registry_is_in_step_with_it() -> None:
    assert out_of_step(PROJECT_ROOT) == [], "run `uv run wdc workspace sync`"


def _registry_copy(root: Path) -> Path:
    """The registry and every file made from it, as in this repository."""
    paths = [WORKSPACE, DG_WORKSPACE, GRPC_WORKSPACE, DBT_PROJECT]
    paths += [Path("domains") / d / "dg.toml" for d in domain_modules()]
    for path in paths:
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text((PROJECT_ROOT / path).read_text())
    return root


def _sync(root: Path, *options: str) -> int:
    return main(["workspace", "sync", *options, "--project-dir", str(root)])


def test_workspace_sync_puts_back_what_drifted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _registry_copy(tmp_path)
    (root / DG_WORKSPACE).write_text('directory_type = "workspace"\n')
    (root / "domains/sales/dg.toml").write_text("# edited by hand\n")
    assert _sync(root, "--check") == 1
    assert capsys.readouterr().out == "out of step dg.toml\nout of step domains/sales/dg.toml\n"
    assert (root / DG_WORKSPACE).read_text() == 'directory_type = "workspace"\n'
    assert _sync(root) == 0
    assert capsys.readouterr().out == "wrote dg.toml\nwrote domains/sales/dg.toml\n"
    for path in (DG_WORKSPACE, Path("domains/sales/dg.toml")):
        assert (root / path).read_text() == (PROJECT_ROOT / path).read_text()
    assert _sync(root, "--check") == 0


def test_a_domain_added_to_the_registry_is_added_everywhere(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _registry_copy(tmp_path)
    with open(root / WORKSPACE, "a") as workspace:
        workspace.write(
            "  - python_module:\n      module_name: domains.ads.definitions\n"
            "      working_directory: .\n      location_name: ads\n"
        )
    (root / "domains/ads").mkdir()
    (root / "domains/ads/dg.toml").write_text("")
    assert _sync(root) == 0
    written = capsys.readouterr().out.splitlines()
    assert written == [f"wrote {p}" for p in (DBT_PROJECT, DG_WORKSPACE, GRPC_WORKSPACE)] + [
        "wrote domains/ads/dg.toml"
    ]
    projects = tomllib.loads((root / DG_WORKSPACE).read_text())["workspace"]["projects"]
    assert projects[-1] == {"path": "domains/ads"} and len(projects) == len(domain_modules()) + 1
    ads = tomllib.loads((root / "domains/ads/dg.toml").read_text())["project"]
    assert ads["code_location_name"] == "ads"
    servers = [
        e["grpc_server"] for e in yaml.safe_load((root / GRPC_WORKSPACE).read_text())["load_from"]
    ]
    assert servers[-1] == {
        "host": "localhost",
        "port": 4000 + len(domain_modules()),
        "location_name": "ads",
    }
    models = yaml.safe_load((root / DBT_PROJECT).read_text())["models"]["wdc"]
    assert models["ads"]["+group"] == "ads" and models["ads"]["+schema"] == "ads"
    assert _sync(root, "--check") == 0


def test_a_domain_removed_from_the_registry_but_left_in_dbt_is_refused(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = _registry_copy(tmp_path)
    data = yaml.safe_load((root / WORKSPACE).read_text())
    data["load_from"] = [
        e for e in data["load_from"] if e["python_module"]["location_name"] != "finance"
    ]
    (root / WORKSPACE).write_text(yaml.safe_dump(data, sort_keys=False))
    before = {p: p.read_text() for p in root.rglob("*") if p.is_file()}
    assert _sync(root) == 2
    assert (
        "configures domain folder(s) ['finance'] that workspace.yaml does not list" in caplog.text
    )
    assert {p: p.read_text() for p in root.rglob("*") if p.is_file()} == before


def test_workspace_sync_refuses_a_registry_it_cannot_read(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / WORKSPACE).write_text("load_from:\n  - grpc_server: {host: h, port: 1}\n")
    assert _sync(tmp_path) == 2
    assert "not a workspace of python_module entries" in caplog.text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["workspace.yaml"]


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
