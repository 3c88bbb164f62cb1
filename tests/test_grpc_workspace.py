"""The production layout, run for real on this machine (README, "The daemon, the webserver and code
servers"): one `dagster api grpc` code server per domain, `dagster-webserver` and
`dagster-daemon run` on a workspace of their `grpc_server` entries, the Dagster instance on
PostgreSQL (DAGSTER_PG_*, the dagster.yaml `wdc` writes). Every domain's daily job is launched for
one day through GraphQL, queued by the instance's run coordinator, launched by the daemon through
the domain's code server, and the day's products land in the lakehouse.

The generator of that workspace (`wdc grpc-workspace`) is tested first, on its own: its entries
are workspace.yaml's locations, and the shipped deploy/workspace.grpc.yaml is its output."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest
import yaml
from dagster._core.remote_origin import GrpcServerCodeLocationOrigin

from devtools.devserver import GrpcDeployment, launch_all
from tests.conftest import TEST_SCALE_FACTOR, MeshLake
from tests.infra import PostgresCluster
from tests.products import on_days
from wdc_orchestration.cli import main
from wdc_orchestration.governance.descriptor import load_descriptors
from wdc_orchestration.mesh.registry import domain_modules
from wdc_orchestration.ops.deploy import (
    GRPC_WORKSPACE_FILE,
    CodeServer,
    code_servers,
    grpc_workspace_yaml,
    with_code_server,
)
from wdc_orchestration.settings import environment, isolated_lake_env

pytestmark = pytest.mark.daemon  # gRPC code servers, the daemon, the webserver

DAY = "2026-11-01"
DAGSTER_DB = "wdc_grpc_dagster"
# every data product (where its rows of a day are: tests/products.py)
PRODUCTS = sorted(load_descriptors())
# product -> the raw entity it has exactly one row per
ROW_PER = {
    "sales.fct_orders": "sales/orders",
    "finance.fct_payments": "finance/payments",
    "logistics.fct_shipments": "logistics/shipments",
}


# --- the generator -------------------------------------------------------------------------------


def _entries(text: str) -> list[dict[str, object]]:
    return [entry["grpc_server"] for entry in yaml.safe_load(text)["load_from"]]


def test_one_grpc_server_entry_per_workspace_yaml_location_in_its_order() -> None:
    entries = _entries(grpc_workspace_yaml(code_servers()))
    assert [e["location_name"] for e in entries] == list(domain_modules())
    assert [e["port"] for e in entries] == list(range(4000, 4000 + len(domain_modules())))
    assert {e["host"] for e in entries} == {"localhost"}


def test_each_entry_comes_with_the_command_that_serves_its_domain() -> None:
    text = grpc_workspace_yaml(code_servers(first_port=4100))
    for n, (location, module) in enumerate(domain_modules().items()):
        command = (
            f"dagster api grpc -m {module} -h 0.0.0.0 -p {4100 + n} --location-name {location}"
        )
        assert f"  # {command}\n" in text


def test_a_host_per_domain_and_other_ports() -> None:
    servers = code_servers({"sales": "domains.sales.definitions"}, host="wdc-{location}.mesh")
    assert servers == [CodeServer("sales", "domains.sales.definitions", "wdc-sales.mesh", 4000)]
    assert _entries(grpc_workspace_yaml(servers)) == [
        {"host": "wdc-sales.mesh", "port": 4000, "location_name": "sales"}
    ]
    with pytest.raises(ValueError, match="do not fit"):
        code_servers(first_port=65534)


def test_the_shipped_grpc_workspace_is_the_generators_output() -> None:
    assert GRPC_WORKSPACE_FILE.read_text() == grpc_workspace_yaml(code_servers()), (
        "deploy/workspace.grpc.yaml is out of date: "
        "uv run wdc grpc-workspace -o deploy/workspace.grpc.yaml"
    )


def test_a_new_domains_code_server_follows_the_others() -> None:
    """What `wdc new-domain` adds: the generator's output for the longer list of locations."""
    modules = {**domain_modules(), "ads": "domains.ads.definitions"}
    for host in ("localhost", "wdc-{location}.mesh"):
        before = grpc_workspace_yaml(code_servers(host=host, first_port=4100))
        after = with_code_server(before, "ads", "domains.ads.definitions")
        assert after == grpc_workspace_yaml(code_servers(modules, host=host, first_port=4100))
    mixed = grpc_workspace_yaml(
        [CodeServer("a", "m.a", "one", 4000), CodeServer("b", "m.b", "two", 4001)]
    )
    with pytest.raises(ValueError, match="no common host"):
        with_code_server(mixed, "ads", "domains.ads.definitions")
    with pytest.raises(ValueError, match="not the last block"):
        with_code_server(GRPC_WORKSPACE_FILE.read_text() + "telemetry: {}\n", "ads", "m.ads")
    with pytest.raises(ValueError, match="not a workspace of grpc_server entries"):
        with_code_server("load_from: []\n", "ads", "m.ads")


def test_wdc_grpc_workspace_prints_or_writes_it(
    test_lake: MeshLake, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    assert main(["grpc-workspace", "--first-port", "4100"]) == 0
    assert capsys.readouterr().out == grpc_workspace_yaml(code_servers(first_port=4100))
    target = tmp_path / "deploy" / "workspace.grpc.yaml"
    assert main(["grpc-workspace", "-o", str(target)]) == 0
    assert capsys.readouterr().out == f"wrote {target}\n"
    assert _entries(target.read_text()) == _entries(GRPC_WORKSPACE_FILE.read_text())
    assert main(["grpc-workspace", "--first-port", "0"]) == 2


def test_wdc_instance_writes_the_instance_yaml_without_running_anything(
    test_lake: MeshLake, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    home = tmp_path / "home"
    postgres = {
        "DAGSTER_HOME": str(home),
        "DAGSTER_PG_HOST": "db.internal",
        "DAGSTER_PG_DB": "dagster",
        "DAGSTER_PG_USERNAME": "dagster",
    }
    with environment(postgres):
        assert main(["instance", "--print"]) == 0
        printed = capsys.readouterr().out
        assert not home.exists()
        assert main(["instance"]) == 0
        assert capsys.readouterr().out == f"wrote {home / 'dagster.yaml'}\n"
        assert main(["instance"]) == 0
        assert capsys.readouterr().out == f"unchanged {home / 'dagster.yaml'}\n"
    config = (home / "dagster.yaml").read_text()
    assert config == printed and "env: DAGSTER_PG_HOST" in config and "db.internal" not in config
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")  # the operator's own
    with environment(postgres):
        assert main(["instance"]) == 0
        assert capsys.readouterr().out == f"kept {home / 'dagster.yaml'}\n"
    assert (home / "dagster.yaml").read_text() == "telemetry:\n  enabled: false\n"
    with environment({**postgres, "DAGSTER_PG_DB": ""}):
        assert main(["instance"]) == 2


# --- the deployment, for one day -----------------------------------------------------------------


@dataclass
class Day:
    lake: MeshLake
    deployment: GrpcDeployment
    postgres: PostgresCluster
    runs: dict[str, str]  # domain -> run id
    statuses: dict[str, str]  # domain -> final status

    def raw_rows(self, entity: str) -> int:
        manifest = self.lake.root / "lake/raw" / entity / f"date={DAY}" / "_manifest.json"
        return json.loads(manifest.read_text())["rows"]


@pytest.fixture(scope="module")
def day(postgres: PostgresCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Day]:
    root = tmp_path_factory.mktemp("wdc-grpc")
    postgres.create_database(DAGSTER_DB)
    env = {
        **isolated_lake_env(root),
        "WDC_SEED": "42",
        "WDC_SCALE_FACTOR": str(TEST_SCALE_FACTOR),
        "DAGSTER_PG_HOST": postgres.host,
        "DAGSTER_PG_PORT": str(postgres.port),
        "DAGSTER_PG_DB": DAGSTER_DB,
        "DAGSTER_PG_USERNAME": "postgres",
    }
    home = root / "dagster_home"
    with environment(env), GrpcDeployment(home=home, env=env) as deployment:
        runs = launch_all(deployment, list(domain_modules()), DAY)
        done = deployment.wait(runs.values(), timeout=1200)
        statuses = {domain: done[run_id] for domain, run_id in runs.items()}
        yield Day(MeshLake(root), deployment, postgres, runs, statuses)


def test_every_location_is_loaded_from_its_grpc_server(day: Day) -> None:
    assert day.deployment.locations() == dict.fromkeys(domain_modules(), "LOADED")
    workspace = yaml.safe_load(day.deployment.grpc_workspace.read_text())
    assert [next(iter(e)) for e in workspace["load_from"]] == ["grpc_server"] * len(day.runs)


def test_every_domains_daily_run_succeeds(day: Day) -> None:
    assert day.statuses == dict.fromkeys(domain_modules(), "SUCCESS")


def test_each_run_was_launched_through_its_domains_code_server(day: Day) -> None:
    ports = {server.location: server.port for server in day.deployment.servers}
    instance = dg.DagsterInstance.get()
    for domain, run_id in day.runs.items():
        origin = instance.get_run_by_id(run_id).remote_job_origin.repository_origin
        location = origin.code_location_origin
        assert isinstance(location, GrpcServerCodeLocationOrigin), domain
        assert (location.location_name, location.port) == (domain, ports[domain])


def test_runs_and_events_are_stored_in_postgres(day: Day) -> None:
    runs = day.postgres.query(DAGSTER_DB, "select run_id, pipeline_name, status from runs")
    assert sorted(runs) == sorted(
        (run_id, f"{domain}_daily", "SUCCESS") for domain, run_id in day.runs.items()
    )
    materialized = day.postgres.query(
        DAGSTER_DB,
        "select distinct asset_key from event_logs "
        "where dagster_event_type = 'ASSET_MATERIALIZATION'",
    )
    keys = {tuple(json.loads(key)) for (key,) in materialized}
    assert {tuple(product.split(".")) for product in PRODUCTS} <= keys
    # nothing of the instance in SQLite files under DAGSTER_HOME
    assert list(day.deployment.home.rglob("*.db")) == []


@pytest.mark.parametrize("product", PRODUCTS)
def test_the_days_products_are_in_the_lakehouse(day: Day, product: str) -> None:
    rows = day.lake.scalar(f"select count(*) from ({on_days(product, [DAY])})")
    assert rows > 0
    if product in ROW_PER:
        assert rows == day.raw_rows(ROW_PER[product])
