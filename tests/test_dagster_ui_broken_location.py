"""One domain's code broken: `dagster dev` on a temporary copy of the workspace shows that location
as an error, in the UI and in GraphQL, while the other four load and run.

The copy: the `domains` package copied to a temporary folder with finance's definitions importing
a name its simulator does not have; the temporary workspace.yaml loads finance from there and the
other domains from the project. A fresh instance and lake, so nothing here touches the session's."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import DAY_1, TEST_SCALE_FACTOR
from tests.dagster_ui import (
    DagsterDev,
    chromium_page,
    free_port,
    require_chromium,
    screenshot,
)
from wdc_orchestration.mesh.registry import WORKSPACE_FILE, domain_modules
from wdc_orchestration.mesh.workspace import INSTANCE_YAML
from wdc_orchestration.settings import PROJECT_ROOT, isolated_lake_env

pytestmark = [pytest.mark.browser, pytest.mark.daemon]

BROKEN = "finance"
HEALTHY_RUN = ("customers", "customers_daily")  # no upstream domain: runs on an empty lake
BREAKAGE = "from domains.finance.simulator import NOT_A_NAME_IT_HAS  # planted by the test\n"


@dataclass(frozen=True)
class BrokenWorkspace:
    server: DagsterDev
    workspace: Path


def _break_a_copy_of_the_domains(root: Path) -> Path:
    """A copy of `domains/` whose finance definitions fail at import; the folder to load it from."""
    source = root / "src"
    shutil.copytree(
        PROJECT_ROOT / "domains", source / "domains", ignore=shutil.ignore_patterns("__pycache__")
    )
    definitions = source / "domains" / BROKEN / "definitions.py"
    # planted after the spec's imports: the first line of code after the module's docstring
    text = definitions.read_text()
    anchor = "from wdc_orchestration.mesh.domain import"
    assert anchor in text, f"{definitions} no longer imports {anchor!r}"
    definitions.write_text(text.replace(anchor, BREAKAGE + anchor, 1))
    assert BREAKAGE in definitions.read_text()
    return source


def _workspace_with_broken(root: Path, broken_source: Path) -> Path:
    workspace = yaml.safe_load(WORKSPACE_FILE.read_text())
    for entry in workspace["load_from"]:
        module = entry["python_module"]
        # Project-relative folders made absolute: the copy lives outside the project.
        module["working_directory"] = str(
            broken_source if module["location_name"] == BROKEN else PROJECT_ROOT
        )
    path = root / "workspace.yaml"
    path.write_text(yaml.safe_dump(workspace, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def broken(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokenWorkspace]:
    require_chromium()
    root = tmp_path_factory.mktemp("broken_workspace")
    workspace = _workspace_with_broken(root, _break_a_copy_of_the_domains(root))
    env = {
        **os.environ,
        **isolated_lake_env(root),
        "WDC_SCALE_FACTOR": str(TEST_SCALE_FACTOR),
    }
    home = Path(env["DAGSTER_HOME"])
    home.mkdir(parents=True)
    (home / "dagster.yaml").write_text(INSTANCE_YAML)
    port = free_port()
    server = DagsterDev(
        ["dagster", "dev", "-w", str(workspace), "-p", str(port), "--host", "127.0.0.1"],
        port,
        env,
        root / "dagster_dev.log",
    )
    try:
        server.wait_until_loaded()
        yield BrokenWorkspace(server, workspace)
        server.wait_for_no_runs_in_progress()
    finally:
        server.stop()


def test_the_broken_location_is_an_error_and_the_other_four_load(broken: BrokenWorkspace) -> None:
    entries = {e["name"]: e["locationOrLoadError"] for e in broken.server.locations()}
    assert entries[BROKEN]["__typename"] == "PythonError"
    assert "NOT_A_NAME_IT_HAS" in entries[BROKEN]["message"]
    healthy = {name: e["__typename"] for name, e in entries.items() if name != BROKEN}
    assert len(healthy) == 4
    assert set(healthy.values()) == {"RepositoryLocation"}


def test_the_ui_shows_the_broken_location_as_an_error(broken: BrokenWorkspace) -> None:
    with chromium_page() as page:
        page.goto(f"{broken.server.url}/deployment/locations")
        _skip_the_community_dialog(page)
        statuses = {name: _status_on_its_row(page, name) for name in domain_modules()}
        screenshot(page, "06_broken_location")
        assert statuses == {name: "Failed" if name == BROKEN else "Loaded" for name in statuses}

        _row(page, BROKEN).get_by_text("View error").click()
        page.get_by_role("dialog").get_by_text("NOT_A_NAME_IT_HAS").first.wait_for()
        page.wait_for_timeout(500)  # the dialog fades in: a screenshot at once is see-through
        screenshot(page, "07_broken_location_error")


def _skip_the_community_dialog(page: Any) -> None:
    dialog = page.get_by_role("dialog").filter(has_text="Join the Dagster community")
    dialog.wait_for(state="visible")  # a new instance: it always comes first
    dialog.get_by_role("button", name="Skip").click()
    dialog.wait_for(state="hidden")


def _row(page: Any, location: str) -> Any:
    """The location's row: the table is virtualised, one `data-index` element per row."""
    return page.locator("[data-index]").filter(has=page.get_by_text(location, exact=True))


def _status_on_its_row(page: Any, location: str) -> str:
    row = _row(page, location)
    row.wait_for()
    shown = [
        status for status in ("Loaded", "Failed") if row.get_by_text(status, exact=True).count()
    ]
    assert len(shown) == 1, (location, row.inner_text())
    return shown[0]


def test_a_healthy_location_still_runs_its_job(broken: BrokenWorkspace) -> None:
    from dagster import DagsterRunStatus
    from dagster_graphql import DagsterGraphQLClient

    location, job = HEALTHY_RUN
    client = DagsterGraphQLClient("127.0.0.1", port_number=broken.server.port)
    run_id = client.submit_job_execution(
        job,
        repository_location_name=location,
        repository_name="__repository__",
        tags={"dagster/partition": DAY_1},
    )
    run = broken.server.wait_for_run(run_id)
    assert client.get_run_status(run_id) == DagsterRunStatus.SUCCESS, run
    assert run["stepStats"] and all(s["status"] == "SUCCESS" for s in run["stepStats"])
