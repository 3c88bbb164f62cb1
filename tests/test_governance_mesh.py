"""Governance on the real mesh: the two days the session materialised through Dagster published
every product's Parquet port after its policy checks passed; consumers read it with plain DuckDB;
the scanner finds no personal data in any product (and does find planted data); a failing dbt
test or a blocking policy check stops the publication."""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pytest
import yaml
from dagster_dbt import DbtProject

from tests.conftest import DAY_1, DAY_2, TEST_SCALE_FACTOR, MeshLake
from wdc_orchestration.dbt.runner import DbtRunner
from wdc_orchestration.governance.assets import build_publish_asset, published_key
from wdc_orchestration.governance.audit_gate import check_name
from wdc_orchestration.governance.descriptor import ProductDescriptor, load_descriptors
from wdc_orchestration.governance.pseudonymisation import (
    DEVELOPMENT_KEY,
    KEY_VARIABLE,
    pseudonymise,
)
from wdc_orchestration.governance.publishing import consumer_sql, read_pointer
from wdc_orchestration.governance.scanner import scan_relation
from wdc_orchestration.governance.violations import Policy
from wdc_orchestration.resources.lake import LocalLakeStorage
from wdc_orchestration.resources.lakehouse import lakehouse_from_settings
from wdc_orchestration.resources.simulation import SimulationResource
from wdc_orchestration.settings import DBT_PROJECT_DIR, get_settings

DESCRIPTORS = load_descriptors()
PRODUCTS = sorted(DESCRIPTORS)
VALID_CPF = "529.982.247-25"


def _lake(mesh: MeshLake) -> LocalLakeStorage:
    return LocalLakeStorage(root=str(mesh.root / "lake"))


def _consumer_rows(mesh: MeshLake, d: ProductDescriptor) -> duckdb.DuckDBPyConnection:
    """Plain DuckDB, no catalog: the documented read path of the file port."""
    consumer = duckdb.connect()
    *setup, _query = consumer_sql(str(mesh.root / "lake"), d.domain, d.name, d.major).split(";\n")
    for statement in setup:
        consumer.execute(statement)
    return consumer


@pytest.mark.parametrize("product", PRODUCTS)
def test_every_product_is_published_with_its_contract_beside_it(
    two_days: MeshLake, product: str
) -> None:
    d = DESCRIPTORS[product]
    lake = _lake(two_days)
    pointer = read_pointer(lake, d.domain, d.name, d.major)
    assert pointer is not None, f"{product} has no file port"
    assert pointer["version"] == d.version
    contract = yaml.safe_load(lake.read_bytes(d.file_port_prefix + pointer["contract"]))
    assert contract == d.as_dict()
    assert pointer["files"], f"{product}'s pointer lists no file"
    assert all(lake.exists(d.file_port_prefix + f) for f in pointer["files"])


@pytest.mark.parametrize("product", PRODUCTS)
def test_consumers_read_the_parquet_port_with_plain_duckdb_and_get_the_table(
    two_days: MeshLake, product: str
) -> None:
    d = DESCRIPTORS[product]
    consumer = _consumer_rows(two_days, d)
    parquet = consumer.execute("select * from read_parquet(getvariable('files'))").to_arrow_table()
    with two_days.connect() as con:
        table = con.execute(f"select * from {d.sql_port}").to_arrow_table()
        con.register("parquet_port", parquet)
        only_in_table = con.execute(
            f"select count(*) from (select * from {d.sql_port} except all "
            "select * from parquet_port)"
        ).fetchone()[0]
        only_in_port = con.execute(
            f"select count(*) from (select * from parquet_port except all "
            f"select * from {d.sql_port})"
        ).fetchone()[0]
    assert parquet.num_rows == table.num_rows > 0
    assert parquet.schema.names == [c.name for c in d.columns]
    assert parquet.schema.types == table.schema.types
    assert (only_in_table, only_in_port) == (0, 0)


def test_every_policy_check_passed_on_every_product(two_days: MeshLake) -> None:
    instance = dg.DagsterInstance.get()
    keys = [
        dg.AssetCheckKey(dg.AssetKey([d.domain, d.name]), check_name(policy))
        for d in DESCRIPTORS.values()
        for policy in Policy
    ]
    storage = instance.event_log_storage
    history = {key: storage.get_asset_check_execution_history(key, limit=50) for key in keys}
    never_passed = [
        k.to_user_string()
        for k, runs in history.items()
        if not any(r.status.value == "SUCCEEDED" for r in runs)
    ]
    assert never_passed == [], "some policy checks never passed"
    # a run whose dbt step was skipped (a later test's refused landing) records them SKIPPED
    failed = [
        k.to_user_string()
        for k, runs in history.items()
        if any(r.status.value == "FAILED" for r in runs)
    ]
    assert failed == []
    published = [published_key(d) for d in DESCRIPTORS.values()]
    for key in published:
        assert instance.get_latest_materialization_event(key) is not None, key


def test_customer_keys_are_hmac_pseudonyms_that_still_join(two_days: MeshLake) -> None:
    raw = two_days.root / "lake/raw/customers/customers" / f"date={DAY_2}" / "customers.parquet"
    crm_ids = [row[0] for row in duckdb.sql(f"select id_cliente from '{raw}'").fetchall()]
    expected = {pseudonymise(i, DEVELOPMENT_KEY.encode()) for i in crm_ids}
    with two_days.connect() as con:
        published = {
            r[0]
            for r in con.execute(
                "select customer_id from lakehouse.customers.dim_customers"
            ).fetchall()
        }
        clear = con.execute(
            "select count(*) from lakehouse.sales.fct_orders "
            "where not regexp_full_match(customer_id, '[0-9a-f]{64}')"
        ).fetchone()[0]
    assert published == expected  # HMAC-SHA256 of the CRM id, nothing else
    assert clear == 0
    assert not {str(i) for i in crm_ids} & published


@pytest.mark.parametrize("product", PRODUCTS)
def test_the_scanner_finds_no_personal_data_in_the_real_products(
    two_days: MeshLake, product: str
) -> None:
    d = DESCRIPTORS[product]
    columns = [c.name for c in d.columns]
    with two_days.connect() as con:
        assert scan_relation(con, d.sql_port, columns) == []
    consumer = _consumer_rows(two_days, d)
    assert scan_relation(consumer, "read_parquet(getvariable('files'))", columns) == []


def test_the_scanner_finds_cpfs_and_emails_planted_in_product_data(two_days: MeshLake) -> None:
    d = DESCRIPTORS["logistics.fct_shipments"]
    consumer = _consumer_rows(two_days, d)
    consumer.execute("create table planted as select * from read_parquet(getvariable('files'))")
    consumer.execute(
        f"update planted set destination_city = '{VALID_CPF}' "
        "where shipment_id in (select shipment_id from planted order by shipment_id limit 3)"
    )
    consumer.execute(
        "update planted set carrier_service = 'joao.silva@gmail.com' "
        "where shipment_id = (select max(shipment_id) from planted)"
    )
    findings = scan_relation(consumer, "planted", [c.name for c in d.columns])
    assert {(f.column, f.kind, f.count) for f in findings} == {
        ("destination_city", "cpf", 1),  # distinct values: the same CPF three times
        ("carrier_service", "email", 1),
    }


def test_a_nightly_privacy_check_reads_the_runs_days_and_still_catches_a_leak_in_them(
    two_days: MeshLake,
) -> None:
    """An incremental product's data checks read only the run's days (the earlier ones passed in
    their own runs): a CPF planted on DAY_1 is found by DAY_1's check and by the full scan of
    `wdc policy check`, and not by DAY_2's nightly check."""
    import datetime as dt

    from wdc_orchestration.dbt.project import load_manifest
    from wdc_orchestration.governance.policies import data_violations, incremental_date_column
    from wdc_orchestration.lakehouse.run_window import RunWindow

    d = DESCRIPTORS["sales.fct_orders"]
    column = incremental_date_column(load_manifest(), d)
    assert column == "order_date"
    settings = get_settings()
    with two_days.connect() as con:
        con.execute("detach lakehouse")
        con.execute(
            f"attach 'ducklake:{settings.ducklake_catalog}' as real "
            f"(data_path '{settings.ducklake_data_path}', read_only)"
        )
        con.execute("attach ':memory:' as lakehouse")
        con.execute("create schema lakehouse.sales")
        con.execute("create table lakehouse.sales.fct_orders as from real.sales.fct_orders")
        con.execute(
            f"update lakehouse.sales.fct_orders set channel = 'cliente {VALID_CPF}' "
            f"where order_id = (select min(order_id) from lakehouse.sales.fct_orders "
            f"where order_date = date '{DAY_1}')"
        )

        def privacy(window: RunWindow | None) -> list[str]:
            found = data_violations(con, d, window, column if window else None)
            return [v.why for v in found if v.policy == Policy.PRIVACY]

        day_1, day_2 = dt.date.fromisoformat(DAY_1), dt.date.fromisoformat(DAY_2)
        assert any("channel" in why and "cpf" in why for why in privacy(RunWindow(day_1, day_1)))
        assert any("channel" in why for why in privacy(None))  # wdc policy check: everything
        assert privacy(RunWindow(day_2, day_2)) == []


def test_wdc_policy_check_and_catalog_on_the_materialised_mesh(
    two_days: MeshLake, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from wdc_orchestration.cli import main

    assert main(["policy", "check"]) == 0  # with the data-level checks: the lakehouse exists
    assert capsys.readouterr().out == ""
    output = tmp_path / "catalog.json"
    assert main(["catalog", "--format", "json", "--output", str(output)]) == 0
    entries = {e["id"]: e for e in json.loads(output.read_text())}
    assert set(entries) == set(PRODUCTS)
    orders = entries["sales.fct_orders"]
    assert orders["policy_status"] == "ok" and orders["consumers"] == ["finance", "logistics"]
    assert orders["published"][0]["major"] == 1 and orders["published"][0]["rows"] > 0
    classification = {c["name"]: (c["classification"], c["privacy"]) for c in orders["columns"]}
    assert classification["customer_id"] == ("personal", "pseudonymised")
    assert main(["catalog", "--format", "markdown"]) == 0
    assert "| `customers.dim_customers` | 2.0.0 | active | crm@wdc.example |" in (
        capsys.readouterr().out
    )


def test_the_pseudonymisation_key_never_reaches_dbt_artifacts_or_logs(
    two_days: MeshLake, tmp_path: Path
) -> None:
    project = tmp_path / "dbt_project"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs"))
    key = "a-test-secret-that-must-not-leak-0123456789"
    dbt = Path(sys.executable).with_name("dbt")
    result = subprocess.run(
        [
            str(dbt),
            "show",
            "--inline",
            "select {{ pseudonymise(\"'42'\") }} as k",
            "--output",
            "json",
            "--log-format",
            "json",
            "--log-level",
            "debug",
            "--project-dir",
            str(project),
            "--profiles-dir",
            str(project),
        ],
        env={**os.environ, **get_settings().dbt_env(), KEY_VARIABLE: key},
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert pseudonymise("42", key.encode()) in output
    assert key not in output
    written = [p for p in project.rglob("*") if p.is_file() and p.stat().st_size < 50_000_000]
    assert any(p.name == "dbt.log" for p in written) and any(p.suffix == ".sql" for p in written)
    leaked = [str(p) for p in written if key.encode() in p.read_bytes()]
    assert leaked == []


# --- the publishing gate: nothing is published when the product's build or checks fail ----------


def _run_catalog_day(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, break_model: str
) -> tuple[dg.ExecuteInProcessResult, LocalLakeStorage]:
    """Land and build one day of the catalog domain into a fresh lake, with the governance checks
    and publishing, from a copy of the dbt project whose dim_products.sql is altered. The domain
    factory builds its dbt assets from the copy (its project and manifest are swapped in)."""
    from wdc_orchestration.dbt.project import load_manifest
    from wdc_orchestration.mesh import domain

    load_manifest()  # the project's own manifest, parsed with the session's settings, cached
    spec = importlib.import_module("domains.catalog.definitions").SPEC
    d = DESCRIPTORS["catalog.dim_products"]

    project = tmp_path / "dbt_project"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs"))
    model = project / "models/catalog/marts/dim_products.sql"
    sql = model.read_text()
    replaced = break_model.split(" as ")[1] + ","
    assert replaced in sql
    model.write_text(sql.replace(replaced, break_model + ",", 1))

    root = tmp_path / "gate"
    monkeypatch.setenv("WDC_LAKE_URL", str(root / "lake"))
    monkeypatch.setenv("WDC_DUCKLAKE_CATALOG", f"sqlite:{root / 'catalog' / 'wdc.sqlite'}")
    monkeypatch.setenv("WDC_DUCKLAKE_DATA_PATH", str(root / "lake" / "lakehouse") + "/")
    (root / "catalog").mkdir(parents=True)
    settings = get_settings()
    dbt = Path(sys.executable).with_name("dbt")
    parsed = subprocess.run(
        [str(dbt), "parse", "--project-dir", str(project), "--profiles-dir", str(project)],
        env={**os.environ, **settings.dbt_env()},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert parsed.returncode == 0, parsed.stdout + parsed.stderr
    copy = DbtProject(project_dir=project, profiles_dir=project, target="local")
    monkeypatch.setattr(domain, "dbt_project", lambda: copy)
    monkeypatch.setattr(domain, "load_manifest", lambda: json.loads(copy.manifest_path.read_text()))
    assets = [*domain.domain_assets(spec), build_publish_asset(d)]

    lake = LocalLakeStorage(root=str(root / "lake"))
    result = dg.materialize(
        assets,
        partition_key=DAY_1,
        raise_on_error=False,
        instance=dg.DagsterInstance.ephemeral(),
        resources={
            "lake": lake,
            "lakehouse": lakehouse_from_settings(settings),
            "dbt": DbtRunner(
                project_dir=str(project),
                profiles_dir=str(project),
                target="local",
                env=settings.dbt_env(),
            ),
            "simulation": SimulationResource(scale_factor=TEST_SCALE_FACTOR, seed=42),
        },
    )
    return result, lake


def _public_and_audit_rows(root: Path) -> tuple[int | None, int]:
    """Rows of catalog.dim_products in its public table (None: never published) and in the audit
    table the failed run left for inspection."""
    settings = get_settings()
    with duckdb.connect(config={"extension_directory": str(settings.duckdb_extension_dir)}) as con:
        con.execute(
            f"attach 'ducklake:{settings.ducklake_catalog}' as lakehouse "
            f"(data_path '{settings.ducklake_data_path}', read_only)"
        )
        tables = {
            (schema, name)
            for schema, name in con.execute(
                "select schema_name, table_name from duckdb_tables() "
                "where database_name = 'lakehouse'"
            ).fetchall()
        }
        public = (
            con.execute("select count(*) from lakehouse.catalog.dim_products").fetchone()[0]
            if ("catalog", "dim_products") in tables
            else None
        )
        audit = con.execute(
            "select count(*) from lakehouse.catalog__audit.dim_products"
        ).fetchone()[0]
    return public, audit


def _outcome(result: dg.ExecuteInProcessResult) -> dict[str, Any]:
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    return {
        "failed_steps": {e.step_key for e in result.get_step_failure_events()},
        "materialized": materialized,
        "failed_checks": {
            (e.asset_key.to_user_string(), e.check_name)
            for e in result.get_asset_check_evaluations()
            if not e.passed
        },
    }


def test_a_failing_dbt_test_fails_the_dbt_step_and_nothing_is_published(
    test_lake: MeshLake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # every product gets the same SKU: dim_products' `unique` test on sku fails
    result, lake = _run_catalog_day(tmp_path, monkeypatch, "'SKU-000001' as sku")
    outcome = _outcome(result)
    assert not result.success
    assert "catalog_dbt_models" in outcome["failed_steps"]
    # built and tested in the audit schema, never published
    assert "catalog/dim_products" not in outcome["materialized"]
    assert any(check.startswith("unique_dim_products_sku") for _, check in outcome["failed_checks"])
    assert "catalog/published/dim_products" not in outcome["materialized"]
    assert lake.list_keys("products/") == []
    public, audit = _public_and_audit_rows(tmp_path / "gate")
    assert public is None and audit > 0


def test_a_blocking_policy_check_stops_the_publication(
    test_lake: MeshLake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a CPF leaks into a product column nobody tests: dbt passes, the privacy check does not
    result, lake = _run_catalog_day(tmp_path, monkeypatch, f"'{VALID_CPF}' as brand")
    outcome = _outcome(result)
    assert "catalog_dbt_models" in outcome["failed_steps"]
    assert ("catalog/dim_products", "policy_privacy") in outcome["failed_checks"]
    assert outcome["failed_checks"] <= {("catalog/dim_products", "policy_privacy")}
    assert "catalog/dim_products" not in outcome["materialized"]
    assert "catalog/published/dim_products" not in outcome["materialized"]
    assert lake.list_keys("products/") == []
    public, audit = _public_and_audit_rows(tmp_path / "gate")
    assert public is None and audit > 0
