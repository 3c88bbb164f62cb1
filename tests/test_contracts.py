"""Public models have enforced contracts: SQL that drifts from its contract fails the build."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import MeshLake
from wdc_orchestration.settings import DBT_PROJECT_DIR, get_settings


def test_every_public_model_enforces_its_contract() -> None:
    from wdc_orchestration.dbt.project import load_manifest

    public = [
        node
        for node in load_manifest()["nodes"].values()
        if node["resource_type"] == "model" and node.get("access") == "public"
    ]
    assert len(public) >= 5
    for node in public:
        assert node["config"]["contract"]["enforced"], f"{node['name']} has no enforced contract"


def test_a_public_model_drifting_from_its_contract_fails_the_build(
    two_days: MeshLake, tmp_path: Path
) -> None:
    project = tmp_path / "dbt_project"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs"))
    model = next(project.glob("models/sales/marts/fct_orders.sql"))
    sql = model.read_text()
    # Drop a contracted column from the final select: the model no longer matches its contract.
    drifted = sql.replace("channel,", "", 1)
    assert drifted != sql, "the fixture expects fct_orders to select `channel,`"
    model.write_text(drifted)

    dbt = Path(sys.executable).with_name("dbt")
    result = subprocess.run(
        [
            str(dbt),
            "run",
            "--select",
            "fct_orders",
            "--project-dir",
            str(project),
            "--profiles-dir",
            str(project),
            "--vars",
            '{"min_date": "2026-11-02", "max_date": "2026-11-02"}',
        ],
        env={**os.environ, **get_settings().dbt_env()},
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "contract" in output.lower() and "channel" in output, output
