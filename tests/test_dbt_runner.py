"""dbt in the Dagster process (wdc_orchestration/dbt/runner.py): several invocations in one
process must behave like separate dbt processes — each its own run window, ephemeral models
compiled afresh, failures named — on the mesh the session materialised for real."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.conftest import DAY_1, DAY_2, MeshLake
from wdc_orchestration.dbt import manifest as manifests
from wdc_orchestration.dbt import runner as runner_module
from wdc_orchestration.dbt.project import DBT_TARGET
from wdc_orchestration.dbt.runner import DbtRunner
from wdc_orchestration.lakehouse.run_window import RunWindow, run_window_environment
from wdc_orchestration.settings import DBT_PROJECT_DIR, get_settings


@pytest.fixture(scope="module")
def runner(two_days: MeshLake) -> DbtRunner:
    return DbtRunner(
        project_dir=str(DBT_PROJECT_DIR),
        profiles_dir=str(DBT_PROJECT_DIR),
        target=DBT_TARGET,
        env=get_settings().dbt_env(),
    )


def _window(day: str) -> RunWindow:
    date = dt.date.fromisoformat(day)
    return RunWindow(date, date)


def test_each_invocation_sees_its_own_run_window(runner: DbtRunner) -> None:
    """dbt-duckdb keeps its DuckDB database for the life of a process; the runner closes it after
    each invocation, so the window plugin reads the new window (a stale one built day 1 twice)."""
    seen = []
    for day in (DAY_1, DAY_2, DAY_1):
        with run_window_environment(_window(day)):
            run = runner.run(["show", "--inline", "select getvariable('wdc_min_date') as min_date"])
        assert run.success, run.errors
        (row,) = run.results[0].agate_table.rows
        seen.append(str(row[0])[:10])
    assert seen == [DAY_1, DAY_2, DAY_1]


def test_source_tests_count_the_days_of_the_window(runner: DbtRunner) -> None:
    results = {}
    for day in (DAY_1, DAY_2):
        with run_window_environment(_window(day)):
            run = runner.run(["test", "--select", "source:customers_raw"])
        assert run.success, run.errors
        results[day] = {r.node.unique_id: str(r.status) for r in run.results}
        assert results[day] and set(results[day].values()) == {"pass"}
    assert results[DAY_1].keys() == results[DAY_2].keys()


def test_ephemeral_parents_are_injected_on_every_invocation(runner: DbtRunner) -> None:
    """dbt compiles into the shared manifest; without a reset the second compile of a model
    referencing an ephemeral model loses the CTE ("__dbt__cte__... does not exist")."""
    cte = "__dbt__cte__int_sales__order_item_totals as ("
    for _ in range(2):
        with run_window_environment(_window(DAY_2)):
            run = runner.run(["compile", "--select", "fct_orders"])
        assert run.success, run.errors
        model = run.result_by_unique_id()["model.wdc.fct_orders"]
        assert cte in model.node.compiled_code


def test_a_failing_invocation_names_the_node_and_keeps_its_log(runner: DbtRunner) -> None:
    run = runner.run(["show", "--inline", "select * from a_table_that_does_not_exist"])
    assert not run.success
    error = run.error()
    assert "a_table_that_does_not_exist" in error.description
    assert (run.target_path / "dbt.log").exists()  # kept for debugging
    run.cleanup(keep_on_failure=False)
    assert not run.target_path.exists()


def test_an_inline_query_after_a_failed_one_runs(runner: DbtRunner) -> None:
    """dbt removes its inline node only after a run that completes: the failed query's node must
    not make the next one a duplicate "inline_query" (a random order once put them in a row)."""
    failed = runner.run(["show", "--inline", "select * from a_table_that_does_not_exist"])
    assert not failed.success
    run = runner.run(["show", "--inline", "select 41 + 1 as answer"])
    assert run.success, run.errors
    (row,) = run.results[0].agate_table.rows
    assert row[0] == 42


def test_the_next_process_loads_the_kept_manifest_and_runs_with_it(
    runner: DbtRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A process that parsed keeps its manifest (dbt/manifest.py: keep_manifest); the next one
    loads it instead of parsing, and builds and tests with it: refs, sources and ephemeral
    parents resolved as from a parse (dbt's own `Manifest` pickling shifted the fields and failed
    here with "RefableLookup.find() missing 1 required positional argument")."""
    fingerprint = manifests.parse_fingerprint(DBT_PROJECT_DIR, runner.invocation_env())
    parsed = runner._manifest()
    assert manifests._kept_manifest_path(fingerprint).exists()

    manifests.PARSED_MANIFESTS.clear()  # as in a new process

    def no_parse(*args: object, **kwargs: object) -> None:
        raise AssertionError("parsed although a kept manifest was there")

    monkeypatch.setattr(runner_module, "parse_project", no_parse)
    kept = runner._manifest()
    # the project's nodes (an earlier `show --inline` may have left its query in this process's)
    project_nodes = {uid for uid in parsed.nodes if not uid.startswith("sql_operation.")}
    assert kept is not parsed and set(kept.nodes) == project_nodes
    with run_window_environment(_window(DAY_2)):
        compiled = runner.run(["compile", "--select", "fct_orders"])
        assert compiled.success, compiled.errors
        # read before the next invocation resets the shared manifest's compiled code
        model = compiled.result_by_unique_id()["model.wdc.fct_orders"]
        assert "__dbt__cte__int_sales__order_item_totals as (" in model.node.compiled_code
        tested = runner.run(["test", "--select", "source:customers_raw"])
    assert tested.success, tested.errors
    assert tested.results and {str(r.status) for r in tested.results} == {"pass"}
