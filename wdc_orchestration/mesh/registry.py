"""The registry of domains: workspace.yaml's code locations, read without loading any of them.

Its own module, free of Dagster and dbt, because every `wdc` command (and the scaffold and the
deploy files generated from it) reads the registry, while only the commands that run the mesh
pay for loading it (mesh/workspace.py)."""

from __future__ import annotations

from pathlib import Path

from wdc_orchestration.settings import PROJECT_ROOT
from wdc_orchestration.yamlio import load_yaml

WORKSPACE_FILE = PROJECT_ROOT / "workspace.yaml"


def domain_modules(workspace: Path = WORKSPACE_FILE) -> dict[str, str]:
    """location name -> module, in workspace order (the order domains are listed in): the
    registry of domains (scaffold/project_files.py writes the other lists from it)."""
    return registry(workspace.read_text())


def registry(workspace_text: str) -> dict[str, str]:
    """The registry's domains: location name -> module, in workspace.yaml's order."""
    entries = load_yaml(workspace_text)["load_from"]
    return {
        entry["python_module"]["location_name"]: entry["python_module"]["module_name"]
        for entry in entries
    }
