"""The Dagster UI as engineers use it: `wdc dev` (= `dagster dev -w workspace.yaml`) for real on a
free port, driven in Debian's chromium and, as a program would, through its GraphQL API.

These tests run on test_nightly.py's deployment, which imports them (a module named `test_*` would
be collected on its own): its `wdc dev` and daemon on a new lake and instance, after the two
nights its five daily jobs built. One `dagster dev` for both instead of one each, in one module,
so one xdist worker (loadscope). What they run there disturbs nothing the nightly asserts: the
raw day the UI materialises lands again as it was (no product is rebuilt), and the GraphQL
client's customers day is one no consumer has built (no late-upstream rebuild follows).

Expectations come from the running system, never from a list kept here: the groups from
workspace.yaml, the cross-domain edges and step keys from GraphQL, columns and row counts from the
lakehouse. Screenshots go to test-artifacts/ui/ (WDC_TEST_ARTIFACTS overrides the folder)."""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from tests.conftest import DAY_1
from tests.dagster_ui import DagsterUI, chromium_page, graphql, screenshot
from wdc_orchestration.mesh.registry import domain_modules

if TYPE_CHECKING:
    from tests.test_nightly import Nightly

# test_nightly.py's marks are the module's (daemon); these are marked one by one
browser = pytest.mark.browser

PRODUCT = ("sales", "fct_orders")
RAW_ASSET = ("catalog", "raw", "categories")
GRAPHQL_JOB = ("customers", "customers_daily")
# A day after every day of test_nightly.py: no consumer has built it, so customers' publication
# of it requests no rebuild of sales (the late-upstream sensor) while the nightly's tests run.
GRAPHQL_DAY = "2026-11-06"
# The architecture's promise (README, docs/architecture.md): products cross domains this way.
PROMISED_EDGES = {
    ("customers", "sales"),
    ("catalog", "sales"),
    ("sales", "finance"),
    ("sales", "logistics"),
}
ASSET_GRAPH_QUERY = """{ assetNodes { assetKey { path } groupName dependencyKeys { path } } }"""


@pytest.fixture(scope="module")
def ui(two_nights: Nightly) -> DagsterUI:
    """The nightly's `wdc dev -p PORT --host 127.0.0.1` (options passed on to dagster dev, the
    CLI's instance), once its two nights are built."""
    server = two_nights.server
    ui = DagsterUI(server.port, server.log_file, server.process)
    ui.wait_until_loaded()
    return ui


@pytest.fixture(scope="module")
def browser_page(ui: DagsterUI) -> Iterator[Any]:
    with chromium_page() as page:
        yield page


@pytest.fixture
def page(browser_page: Any) -> Iterator[Any]:
    """The module's chromium page, left on a blank page after each test: an open Dagster page
    keeps polling the webserver while the nightly's tests run."""
    yield browser_page
    browser_page.goto("about:blank")


@dataclass(frozen=True)
class FirstVisit:
    dialog_shown: bool
    dialog_after_skip: bool
    dialog_after_reload: bool


@pytest.fixture(scope="module")
def first_visit(ui: DagsterUI, browser_page: Any) -> FirstVisit:
    """A new instance greets with "Join the Dagster community": Skip dismisses it for good."""
    page = browser_page
    page.goto(f"{ui.url}/asset-groups")
    dialog = page.get_by_role("dialog").filter(has_text="Join the Dagster community")
    try:
        dialog.wait_for(state="visible", timeout=60_000)
        shown = True
    except Exception:  # playwright's TimeoutError: the test below reports it
        shown = False
    screenshot(page, "00_join_the_community")
    if shown:
        dialog.get_by_role("button", name="Skip").click()
        dialog.wait_for(state="hidden")
    after_skip = dialog.is_visible()
    page.reload()
    page.get_by_text("Global asset lineage").first.wait_for()
    page.wait_for_timeout(3_000)  # the dialog opens after the page's first queries
    visit = FirstVisit(shown, after_skip, dialog.is_visible())
    page.goto("about:blank")
    return visit


@browser
def test_wdc_dev_serves_every_domain_as_its_own_code_location(ui: DagsterUI) -> None:
    entries = ui.locations()
    assert [e["name"] for e in entries] == list(domain_modules())
    for entry in entries:
        assert entry["locationOrLoadError"]["__typename"] == "RepositoryLocation", entry


@browser
def test_a_new_instance_asks_to_join_the_community_once_and_skip_dismisses_it(
    first_visit: FirstVisit,
) -> None:
    assert first_visit.dialog_shown, "no 'Join the Dagster community' dialog on a new instance"
    assert not first_visit.dialog_after_skip
    assert not first_visit.dialog_after_reload, "the dialog came back after Skip"


# --- the global asset graph ---------------------------------------------------------------------

# Collapsed groups are <foreignObject class="group"> boxes; edges are <path>s from the right side
# of one box to the left side of another (the graph is laid out left to right). Read through
# locators: the UI's Content-Security-Policy forbids evaluating script strings in the page.
GROUP_BOXES = "foreignObject.group"
EDGES = 'path[stroke="var(--color-lineage-edge)"]'


def _graph_geometry(page: Any) -> dict[str, Any]:
    groups = []
    for box in page.locator(GROUP_BOXES).all():
        x, y, w, h = (float(box.get_attribute(a)) for a in ("x", "y", "width", "height"))
        # The box is SVG; its label is the first line of the HTML inside it.
        name = box.locator("div").first.inner_text().strip().splitlines()[0]
        groups.append({"name": name, "x": x, "y": y, "w": w, "h": h})
    edges = []
    for path in page.locator(EDGES).all():
        numbers = [float(n) for n in re.findall(r"-?[\d.]+", path.get_attribute("d"))]
        edges.append({"x1": numbers[0], "y1": numbers[1], "x2": numbers[-2], "y2": numbers[-1]})
    return {"groups": groups, "edges": edges}


def _group_at(groups: list[dict[str, Any]], x: float, y: float, side: str) -> str | None:
    for group in groups:
        edge_x = group["x"] + group["w"] if side == "right" else group["x"]
        if abs(edge_x - x) <= 15 and group["y"] <= y <= group["y"] + group["h"]:
            return group["name"]
    return None


def _drawn_edges(geometry: dict[str, Any]) -> set[tuple[str | None, str | None]]:
    groups = geometry["groups"]
    return {
        (_group_at(groups, e["x1"], e["y1"], "right"), _group_at(groups, e["x2"], e["y2"], "left"))
        for e in geometry["edges"]
    }


def _cross_domain_edges(ui: DagsterUI) -> set[tuple[str, str]]:
    nodes = graphql(ui.port, ASSET_GRAPH_QUERY)["assetNodes"]
    group_of = {tuple(n["assetKey"]["path"]): n["groupName"] for n in nodes}
    return {
        (group_of[tuple(dep["path"])], node["groupName"])
        for node in nodes
        for dep in node["dependencyKeys"]
        if tuple(dep["path"]) in group_of and group_of[tuple(dep["path"])] != node["groupName"]
    }


@browser
def test_the_global_asset_graph_shows_every_domain_and_the_cross_domain_edges(
    ui: DagsterUI, page: Any, first_visit: FirstVisit
) -> None:
    domains = list(domain_modules())
    page.goto(f"{ui.url}/asset-groups")
    page.locator(GROUP_BOXES).nth(len(domains) - 1).wait_for()
    page.locator(EDGES).first.wait_for()
    page.wait_for_timeout(1_000)  # edges are drawn with the boxes' final layout
    geometry = _graph_geometry(page)
    screenshot(page, "01_global_asset_lineage")

    assert sorted(g["name"] for g in geometry["groups"]) == sorted(domains)
    drawn = _drawn_edges(geometry)
    assert drawn == _cross_domain_edges(ui), "the graph draws other edges than the assets have"
    assert drawn >= PROMISED_EDGES


# --- a data product's page ----------------------------------------------------------------------


def _product_node(ui: DagsterUI) -> dict[str, Any]:
    query = """query($key: AssetKeyInput!) { assetNodeOrError(assetKey: $key) {
        ... on AssetNode { description
            owners { ... on UserAssetOwner { email } ... on TeamAssetOwner { team } }
            assetChecksOrError { ... on AssetChecks { checks { name } } } } } }"""
    return graphql(ui.port, query, {"key": {"path": list(PRODUCT)}})["assetNodeOrError"]


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _text_after(text: str, label: str) -> str:
    lines = _lines(text)
    return lines[lines.index(label) + 1]


def _section(text: str, start: str, end: str) -> list[str]:
    lines = _lines(text)
    first = lines.index(start) + 1
    return lines[first : lines.index(end, first)]


def _names_shown(page: Any, names: list[str], shot: str) -> set[str]:
    """Which of `names` the page shows. Long lists are virtualised (only the rows in view are in
    the page), so the list under the first name in view is scrolled until every name has been
    seen or it stops moving; a screenshot of the last view is kept."""
    seen: set[str] = set()
    previous = None
    for _ in range(40):
        text = page.inner_text("body")
        seen |= {name for name in names if name in text}
        if seen == set(names) or text == previous:
            break
        previous = text
        anchor = next((n for n in names if n in text), None)
        if anchor is None:
            break
        # Long names are middle-truncated: the full text is in a hidden measuring element,
        # whose parent is the visible row to scroll from.
        box = page.get_by_text(anchor, exact=True).first.locator("xpath=..").bounding_box()
        if box is None:
            break
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.mouse.wheel(0, 400)
        page.wait_for_timeout(300)
    screenshot(page, shot)
    return seen


@browser
def test_a_data_product_page_shows_description_owner_columns_checks_and_row_count(
    ui: DagsterUI, page: Any, two_nights: Nightly, first_visit: FirstVisit
) -> None:
    domain, model = PRODUCT
    node = _product_node(ui)
    owner = importlib.import_module(domain_modules()[domain]).SPEC.owner
    with two_nights.lake.connect() as con:
        columns = con.execute(f"describe lakehouse.{domain}.{model}").fetchall()
        rows = con.execute(f"select count(*) from lakehouse.{domain}.{model}").fetchone()[0]

    page.goto(f"{ui.url}/assets/{domain}/{model}")
    page.get_by_text("Row count").first.wait_for()
    page.get_by_text(columns[-1][0], exact=True).first.wait_for()  # the columns table rendered
    page.get_by_text(node["description"].splitlines()[0][:60]).first.wait_for()
    overview = page.inner_text("body")
    screenshot(page, "02_data_product")

    assert node["description"].splitlines()[0] in overview
    assert owner in [o.get("email") or o.get("team") for o in node["owners"]]
    assert owner in _section(overview, "Owners", "Kinds")
    for name, column_type, *_ in columns:
        assert name in overview and column_type in overview, (name, column_type)
    assert int(_text_after(overview, "Row count").replace(",", "")) == rows

    checks = [check["name"] for check in node["assetChecksOrError"]["checks"]]
    page.get_by_text("Checks", exact=True).first.click()
    page.get_by_text(f"Checks ({len(checks)})").wait_for()
    listed = _names_shown(page, checks, "03_data_product_checks")
    assert [name for name in checks if name not in listed] == []


# --- Materialize from the UI, then the run ----------------------------------------------------


@browser
def test_materialize_a_raw_partition_in_the_ui_and_see_the_run_succeed_with_its_steps(
    ui: DagsterUI, page: Any, first_visit: FirstVisit
) -> None:
    page.goto(f"{ui.url}/assets/{'/'.join(RAW_ASSET)}")
    page.get_by_role("button", name="Materialize…").click()
    dialog = page.get_by_role("dialog")
    partitions = dialog.get_by_placeholder("No matching partitions")
    partitions.fill(DAY_1)
    partitions.press("Enter")
    launch = dialog.get_by_role("button", name="Launch 1 run")
    launch.wait_for()
    screenshot(page, "04_materialize_partition")
    launch.click()

    toast = page.get_by_text(re.compile(r"Launched run [0-9a-f]{8}"))
    toast.wait_for()
    run_id = _run_id_starting_with(ui, toast.inner_text().split()[-1])
    page.get_by_text("View", exact=True).first.click()  # the toast's link to the run
    page.wait_for_url(f"**/runs/{run_id}*")
    run = ui.wait_for_run(run_id)
    assert run["status"] == "SUCCESS", f"run {run_id}: {run}"

    steps = [step["stepKey"] for step in run["stepStats"]]
    page.get_by_text("Success", exact=True).first.wait_for()
    page.get_by_text(f"Succeeded ({len(steps)})").wait_for()
    shown = _names_shown(page, steps, "05_run_steps")
    assert [step for step in steps if step not in shown] == []
    assert run["stepStats"] and all(s["status"] == "SUCCESS" for s in run["stepStats"])
    assert f"{RAW_ASSET[0]}__raw__{RAW_ASSET[2]}" in steps  # the asset's own step ran


def _run_id_starting_with(ui: DagsterUI, prefix: str) -> str:
    query = "{ runsOrError(limit: 20) { ... on Runs { results { runId } } } }"
    runs = graphql(ui.port, query)["runsOrError"]["results"]
    matches = [run["runId"] for run in runs if run["runId"].startswith(prefix)]
    assert len(matches) == 1, (prefix, runs)
    return matches[0]


# --- as a program would: DagsterGraphQLClient ---------------------------------------------------


def _job_checks(ui: DagsterUI, location: str, job: str) -> set[tuple[str, str]]:
    # `pipeline:` on the checks too: a product's node also lists the readiness checks its
    # consumers' jobs put on it (quality/upstream.py), which this job does not run.
    query = """query($selector: PipelineSelector!) { assetNodes(pipeline: $selector) {
        assetKey { path }
        assetChecksOrError(pipeline: $selector) { ... on AssetChecks { checks { name } } } } }"""
    selector = {
        "pipelineName": job,
        "repositoryName": "__repository__",
        "repositoryLocationName": location,
    }
    nodes = graphql(ui.port, query, {"selector": selector})["assetNodes"]
    return {
        ("/".join(node["assetKey"]["path"]), check["name"])
        for node in nodes
        for check in node["assetChecksOrError"].get("checks", [])
    }


def _check_evaluations(ui: DagsterUI, run_id: str) -> dict[tuple[str, str], bool]:
    query = """query($id: ID!) { logsForRun(runId: $id, limit: 5000) {
        ... on EventConnection { events { __typename ... on AssetCheckEvaluationEvent {
            evaluation { checkName success assetKey { path } } } } } } }"""
    events = graphql(ui.port, query, {"id": run_id})["logsForRun"]["events"]
    return {
        ("/".join(e["evaluation"]["assetKey"]["path"]), e["evaluation"]["checkName"]): e[
            "evaluation"
        ]["success"]
        for e in events
        if e["__typename"] == "AssetCheckEvaluationEvent"
    }


@browser
def test_the_graphql_client_launches_a_domain_job_for_a_partition_and_reads_its_checks(
    ui: DagsterUI,
) -> None:
    from dagster import DagsterRunStatus
    from dagster_graphql import DagsterGraphQLClient

    location, job = GRAPHQL_JOB
    client = DagsterGraphQLClient("127.0.0.1", port_number=ui.port)
    run_id = client.submit_job_execution(
        job,
        repository_location_name=location,
        repository_name="__repository__",
        tags={"dagster/partition": GRAPHQL_DAY},
    )
    run = ui.wait_for_run(run_id)
    assert client.get_run_status(run_id) == DagsterRunStatus.SUCCESS, run

    expected = _job_checks(ui, location, job)
    evaluated = _check_evaluations(ui, run_id)
    assert expected, f"{job} has no asset checks to read back"
    assert set(evaluated) == expected
    assert [check for check, passed in evaluated.items() if not passed] == []
