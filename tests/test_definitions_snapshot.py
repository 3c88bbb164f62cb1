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
import os
from pathlib import Path

import pytest

from tests.definitions_snapshot import (
    UPDATE_VARIABLE,
    default_settings,
    load_location,
    render,
    snapshot_path,
)
from wdc_orchestration.mesh.workspace import domain_modules

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
