"""Every code location in workspace.yaml loads, the way `dagster dev` loads them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from wdc_orchestration.mesh.registry import domain_modules
from wdc_orchestration.settings import PROJECT_ROOT


def test_workspace_lists_one_code_location_per_domain() -> None:
    assert set(domain_modules()) == {"customers", "catalog", "sales", "finance", "logistics"}


def test_every_code_location_validates(test_lake, tmp_path: Path) -> None:
    dagster = Path(sys.executable).with_name("dagster")
    result = subprocess.run(
        [str(dagster), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=PROJECT_ROOT,
        env={**os.environ, "DAGSTER_HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    for location in domain_modules():
        assert f"{location}" in output


def test_a_broken_domain_does_not_stop_the_others(test_lake, tmp_path: Path) -> None:
    """A workspace with one domain that fails to import: the others still load."""
    broken = tmp_path / "broken_domain.py"
    broken.write_text("raise ImportError('this domain is broken on purpose')\n")
    workspace = tmp_path / "workspace.yaml"
    workspace.write_text(
        "load_from:\n"
        "  - python_file:\n"
        f"      relative_path: {broken}\n"
        "      location_name: broken\n"
        "  - python_module:\n"
        "      module_name: domains.catalog.definitions\n"
        f"      working_directory: {PROJECT_ROOT}\n"
        "      location_name: catalog\n"
    )
    dagster = Path(sys.executable).with_name("dagster")
    result = subprocess.run(
        [str(dagster), "definitions", "validate", "-w", str(workspace)],
        cwd=PROJECT_ROOT,
        env={**os.environ, "DAGSTER_HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "this domain is broken on purpose" in output
    assert "Validation successful for code location catalog" in output, output
