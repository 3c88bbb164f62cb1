"""Every code location of workspace.yaml keeps the structure its snapshot records
(tests/snapshots/definitions.<location>.yaml): asset keys with group, owners, kinds, deps and
pools; asset checks (blocking or not); jobs and what they select; schedules; sensors; pools.

The real definitions are loaded, as Dagster loads the location, on a temporary lake with the
default settings; nothing is materialised. A change to the structure fails here, naming the first
lines that differ, until the snapshot is regenerated and the diff reviewed with the change:

    WDC_UPDATE_SNAPSHOTS=1 uv run pytest tests/test_definitions_snapshot.py -n 0
"""

from __future__ import annotations

import difflib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from tests.definitions_snapshot import (
    UPDATE_VARIABLE,
    default_settings,
    load_location,
    render,
    snapshot_path,
)
from wdc_orchestration.governance.assets import product_key, published_key
from wdc_orchestration.governance.descriptor import load_descriptors
from wdc_orchestration.mesh.registry import domain_modules
from wdc_orchestration.settings import isolated_lake_env

LOCATIONS = domain_modules()
DIFF_LINES = 30  # of the unified diff in a failure: the first differences, not the whole file


def first_differences(expected: str, actual: str, path: str) -> str:
    diff = list(
        difflib.unified_diff(
            expected.splitlines(),
            actual.splitlines(),
            fromfile=f"{path} (committed)",
            tofile="the definitions as loaded",
            lineterm="",
            n=2,
        )
    )
    shown = "\n".join(diff[:DIFF_LINES])
    more = f"\n... {len(diff) - DIFF_LINES} more diff lines" if len(diff) > DIFF_LINES else ""
    return shown + more


@pytest.mark.parametrize("location", list(LOCATIONS))
def test_the_code_location_keeps_the_structure_its_snapshot_records(
    location: str, tmp_path: Path
) -> None:
    with default_settings(tmp_path):
        actual = render(location, load_location(LOCATIONS[location]))
    path = snapshot_path(location)
    relative = path.relative_to(Path(__file__).parents[1])
    if os.environ.get(UPDATE_VARIABLE) == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual)
        return
    assert path.exists(), (
        f"{relative} does not exist: write it with {UPDATE_VARIABLE}=1 and commit it"
    )
    expected = path.read_text()
    if actual != expected:
        pytest.fail(
            f"the structure of `{location}` differs from {relative} "
            f"(regenerate with {UPDATE_VARIABLE}=1 if the change is meant):\n"
            + first_differences(expected, actual, str(relative)),
            pytrace=False,
        )


def test_every_location_has_a_snapshot_and_no_snapshot_is_left_over() -> None:
    snapshots = {p.name for p in snapshot_path("x").parent.glob("definitions.*.yaml")}
    assert snapshots == {snapshot_path(location).name for location in LOCATIONS}


# Loads every location in a fresh interpreter and prints what changed in `os.environ` while the
# definitions loaded. `.env` is read first (once per process, filling only unset variables: the
# one change to the environment the settings make, by design) and polars imported (which appends
# its allocator's options to _RJEM_MALLOC_CONF at import: a library's, not the platform's); then
# the platform is imported and every location's Definitions built, as Dagster loads them.
_LOAD_EVERY_LOCATION = """
import json, os, sys
import polars
from wdc_orchestration.settings import load_dotenv_once
load_dotenv_once()
before = dict(os.environ)
from tests.definitions_snapshot import load_location
from wdc_orchestration.mesh.registry import domain_modules
loaded = [load_location(module) for module in domain_modules().values()]
assert all(defs.resolve_asset_graph().get_all_asset_keys() for defs in loaded)
after = dict(os.environ)
changed = {k: [before.get(k), after.get(k)] for k in before.keys() | after.keys()
           if before.get(k) != after.get(k)}
print(json.dumps({"locations": len(loaded), "changed": changed}))
"""


def _tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def _load_every_location(env: dict[str, str]) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", _LOAD_EVERY_LOCATION],
        env=env,
        cwd=Path(__file__).parents[1],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_loading_the_definitions_changes_no_environment_variable_and_writes_nothing(
    tmp_path: Path,
) -> None:
    """Loading a code location has no side effects (issue 22): dbt gets its settings per
    invocation, and the log file, the catalog's folder, the extensions and the spill folder are
    made when first used, not when Dagster (or `dg`, or a code server) loads the definitions.
    Every setting points into `root`. The first load on new settings parses the dbt project
    (the definitions are built from its manifest), writes the prepared manifest into a target
    folder of its own outside `root`, and logs the parse (two lines), which makes the log file:
    the one thing in `root` afterwards. A load on prepared settings (every later load: a code
    server's reload, a step's process) leaves `root` as it found it."""
    root = tmp_path / "wdc"
    root.mkdir()
    (root / "already_here").write_text("kept")
    env = {
        name: value
        for name, value in os.environ.items()
        if not (name.startswith("WDC_") or name.startswith("DAGSTER_"))
    }
    env.update(
        {
            **isolated_lake_env(root),
            "WDC_DUCKDB_EXTENSION_DIR": str(root / "extensions"),
            "WDC_DUCKDB_TEMP_DIR": str(root / "duckdb_tmp"),
            "WDC_DBT_TARGET_DIR": str(tmp_path / "dbt_target"),
        }
    )
    before = _tree(root)

    first = _load_every_location(env)
    assert first["locations"] == len(LOCATIONS)
    assert first["changed"] == {}
    assert _tree(root) == sorted([*before, "logs", "logs/wdc.log"])
    lines = (root / "logs" / "wdc.log").read_text().splitlines()
    assert [line.split("] ", 1)[1].split(" (")[0].split(" parsed in")[0] for line in lines] == [
        "parsing the dbt project",
        f"dbt project {Path(__file__).parents[1] / 'dbt_project'}",
    ]
    assert (tmp_path / "dbt_target" / "manifest.json").exists()

    shutil.rmtree(root / "logs")
    again = _load_every_location(env)
    assert again["locations"] == len(LOCATIONS)
    assert again["changed"] == {}
    assert _tree(root) == before


def test_each_product_carries_its_catalog_metadata_on_both_ports(tmp_path: Path) -> None:
    """What the UI shows as the catalog (governance/catalog_metadata.py), added on the resolved
    specs: a product's contract on its dbt model (the SQL port) and on its Parquet port, the file
    port on the lake of the settings the location was loaded with."""
    with default_settings(tmp_path):
        specs = {
            spec.key: spec for spec in load_location(LOCATIONS["sales"]).resolve_all_asset_specs()
        }
    products = load_descriptors(domain="sales").values()
    assert products
    for d in products:
        for key in (product_key(d), published_key(d)):
            metadata = specs[key].metadata
            assert metadata["wdc/product"] == d.id and metadata["wdc/version"] == d.version, key
            assert metadata["wdc/owner"] == d.team.owner, key
            assert metadata["wdc/file_port"].path == f"{tmp_path / 'lake'}/{d.file_port_prefix}"
            columns = {c.name for c in metadata["dagster/column_schema"].columns}
            assert columns == {c.name for c in d.columns}, key
    # everything else stays as its factory made it
    raw = specs[dg.AssetKey(["sales", "raw", "orders"])]
    assert "wdc/product" not in raw.metadata
