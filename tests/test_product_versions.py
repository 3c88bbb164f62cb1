"""A product's new major publishes beside the old one, consumers pin a major, the old one retires
(issue 23), on a copy of the project and of the session's lake (two clean days at major 1).

The producer, as docs/governance.md's lifecycle says: sales renames fct_orders' `unit_count` to
`units_count`, first at the same major (1.0.2: refused by the versioning policy, nothing of the
day published), then at 2.0.0 with the `v2/` files server and a deprecation window, the old SQL
kept as the dbt model version `fct_orders_v1.sql`, `versions:` in the YAML, `wdc contracts sync`.
Finance pins major 1 (`ref('fct_orders', v=1)`); logistics reads the latest.

- day 3: both majors publish: `sales.fct_orders_v1` (major 1, which kept days 1-2 as its
  history) and `sales.fct_orders` (the stable name, major 2; `fct_orders_v2` is a view on it) hold
  the day's orders, each with its own columns; file ports `v1/` and `v2/` both have the day;
  finance builds from major 1 (its Dagster dependency, the lineage, says so);
- day 4: finance moved to major 2 and builds from it;
- day 5, `until` set to yesterday: the old major's relation and port are gone, the log says so,
  and a consumer still pinned to it fails the security policy, naming the retired major."""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml

from tests.conftest import MeshLake, copy_lake
from tests.test_new_domain import Copy, copy_project
from wdc_orchestration.settings import environment, isolated_lake_env

pytestmark = pytest.mark.e2e

DAY_3, DAY_4, DAY_5 = "2026-11-03", "2026-11-04", "2026-11-05"
PORTS = "lake/products/sales/fct_orders"
# Runs whose subject is sales or finance run those domains and their producers only
# (`--domains`): the refused day 3 is sales' policy; logistics, which reads the latest major,
# proves it builds on major 2 in day 3's whole-mesh run, and its days 4 and 5 would repeat that
# (nothing asserts on them). Two domain-days of finance and logistics and two of logistics less.
SALES_AND_PRODUCERS = "customers,catalog,sales"
UP_TO_FINANCE = f"{SALES_AND_PRODUCERS},finance"


def _output(done: subprocess.CompletedProcess[str]) -> str:
    out, err = done.stdout[-4000:], done.stderr[-6000:]
    return f"exit {done.returncode}\n--- stdout\n{out}\n--- stderr\n{err}"


def _edit_yaml(path: Path, edit: Any) -> None:
    data = yaml.safe_load(path.read_text())
    edit(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))


def _descriptor(project: Path) -> Path:
    return project / "domains/sales/products/fct_orders.yaml"


def _rename_in_contract(data: dict[str, Any]) -> None:
    column = next(c for c in data["schema"][0]["properties"] if c["name"] == "unit_count")
    column["name"] = "units_count"


def _rename_in_sql(project: Path) -> None:
    sql = project / "dbt_project/models/sales/marts/fct_orders.sql"
    text = sql.read_text()
    text = text.replace(
        "        unit_count,\n        customer_uf",
        "        unit_count as units_count,\n        customer_uf",
    )
    sql.write_text(text)


def _same_major(project: Path) -> None:
    """The breaking rename at 1.0.2: what the versioning policy must refuse."""

    def edit(data: dict[str, Any]) -> None:
        _rename_in_contract(data)
        data["version"] = "1.0.2"

    _edit_yaml(_descriptor(project), edit)
    _rename_in_sql(project)


def _new_major(project: Path, until: str) -> None:
    """The same rename at 2.0.0, the old SQL kept as version 1 (docs/governance.md)."""

    def edit(data: dict[str, Any]) -> None:
        data["version"] = "2.0.0"
        files = next(s for s in data["servers"] if s["server"] == "files")
        files["path"] = files["path"].replace("/v1/", "/v2/")
        data["customProperties"].append(
            {"property": "deprecation", "value": {"previousMajor": 1, "until": until}}
        )

    _edit_yaml(_descriptor(project), edit)
    marts = project / "dbt_project/models/sales/marts"
    # major 1's SQL, as it was published: the rename undone in its own file
    v1 = (marts / "fct_orders.sql").read_text().replace("unit_count as units_count", "unit_count")
    (marts / "fct_orders_v1.sql").write_text(v1)

    def versions(data: dict[str, Any]) -> None:
        model = next(m for m in data["models"] if m["name"] == "fct_orders")
        model["versions"] = [
            {"v": 2, "defined_in": "fct_orders"},
            {
                "v": 1,
                "defined_in": "fct_orders_v1",
                "columns": [
                    {"include": "all", "exclude": ["units_count"]},
                    {
                        "name": "unit_count",
                        "description": "Total units ordered (sum of the lines' quantity).",
                        "data_type": "integer",
                        "meta": {"classification": "internal"},
                    },
                ],
            },
        ]

    _edit_yaml(marts / "_sales__marts.yml", versions)


def _set_until(project: Path, until: str) -> None:
    def edit(data: dict[str, Any]) -> None:
        prop = next(p for p in data["customProperties"] if p["property"] == "deprecation")
        prop["value"]["until"] = until

    _edit_yaml(_descriptor(project), edit)


def _pin_finance(project: Path, major: int | None, declared: int | None = None) -> None:
    """finance.fct_payments reads major `major` of sales.fct_orders (None: the latest) and
    declares `declared` (default: the same; None with major None: 2) in its contract."""
    sql = project / "dbt_project/models/finance/marts/fct_payments.sql"
    ref = "{{ ref('fct_orders') }}" if major is None else f"{{{{ ref('fct_orders', v={major}) }}}}"
    sql.write_text(re.sub(r"\{\{ ref\('fct_orders'[^}]*\}\}", ref, sql.read_text()))
    declared = declared or major or 2

    def edit(data: dict[str, Any]) -> None:
        kept = [c for c in data["customProperties"] if c["property"] != "dependencies"]
        dependency = {"product": "sales.fct_orders", "major": declared}
        data["customProperties"] = [*kept, {"property": "dependencies", "value": [dependency]}]

    _edit_yaml(project / "domains/finance/products/fct_payments.yaml", edit)


def _finance_upstream(copy: Copy) -> list[str]:
    done = copy.run(
        sys.executable,
        "-c",
        "from wdc_orchestration.dbt.project import load_manifest; "
        "from wdc_orchestration.quality.upstream import upstream_products; "
        "keys = upstream_products(load_manifest(), 'finance'); "
        "print(' '.join(k.to_user_string() for k in keys))",
    )
    assert done.returncode == 0, _output(done)
    return done.stdout.split()


def _tables(lake: MeshLake) -> dict[str, str]:
    with lake.connect() as con:
        return dict(
            con.execute(
                "select table_name, table_type from information_schema.tables "
                "where table_catalog = 'lakehouse' and table_schema = 'sales' "
                "and table_name like 'fct_orders%'"
            ).fetchall()
        )


def _rows(lake: MeshLake, relation: str, column: str, day: str) -> int:
    with lake.connect() as con:
        return con.execute(
            f"select count(*) from lakehouse.{relation} where {column} = '{day}'"
        ).fetchone()[0]


def _columns(lake: MeshLake, relation: str) -> list[str]:
    with lake.connect() as con:
        return [r[0] for r in con.execute(f"describe lakehouse.{relation}").fetchall()]


def _port_days(root: Path, major: int) -> list[str] | None:
    """The order days of the current snapshot of file port v<major>/ (None: no port)."""
    port = root / PORTS / f"v{major}"
    if not (port / "current.json").exists():
        return None
    pointer = json.loads((port / "current.json").read_text())

    files = [str(port / f) for f in pointer["files"]]
    with duckdb.connect() as con:
        return [
            str(r[0])
            for r in con.execute(
                "select distinct order_date from read_parquet(?) order by 1", [files]
            ).fetchall()
        ]


def _materialize(
    copy: Copy, day: str, domains: str | None = None
) -> subprocess.CompletedProcess[str]:
    """`wdc materialize` of `day` in the copy: the whole mesh, or `domains` (comma-separated)."""
    subset = ["--domains", domains] if domains else []
    return copy.wdc("materialize", "--start", day, *subset, "--log-level", "ERROR")


def _orders(root: Path, day: str) -> int:
    manifest = root / f"lake/raw/sales/orders/date={day}/_manifest.json"
    return json.loads(manifest.read_text())["rows"]


@dataclass
class Scenario:
    root: Path
    lake: MeshLake
    copy: Copy
    runs: dict[str, subprocess.CompletedProcess[str]] = field(default_factory=dict)
    seen: dict[str, Any] = field(default_factory=dict)


@pytest.fixture(scope="module")
def scenario(two_days: MeshLake, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scenario]:
    root = tmp_path_factory.mktemp("wdc-versions")
    lake = copy_lake(two_days, root)
    copy = Copy(copy_project(root / "project"), root)
    project = copy.project
    s = Scenario(root, lake, copy)
    with environment(isolated_lake_env(root)):
        # 1. the rename at the same major: refused before anything is published
        sql = project / "dbt_project/models/sales/marts/fct_orders.sql"
        kept = {p: p.read_text() for p in [_descriptor(project), sql]}
        _same_major(project)
        s.runs["sync_same"] = copy.wdc("contracts", "sync")
        s.runs["check_same"] = copy.wdc("policy", "check", "--no-data")
        s.runs["same"] = _materialize(copy, DAY_3, SALES_AND_PRODUCERS)
        s.seen["same"] = {
            "tables": _tables(lake),
            "rows": _rows(lake, "sales.fct_orders", "order_date", DAY_3),
            "ports": [_port_days(root, 1), _port_days(root, 2)],
        }
        for path, text in kept.items():
            path.write_text(text)
        # 2. the rename at 2.0.0, finance pinned to major 1
        _rename_in_sql(project)
        _edit_yaml(_descriptor(project), _rename_in_contract)
        _new_major(project, until="2027-03-31")
        _pin_finance(project, 1)
        s.runs["sync"] = copy.wdc("contracts", "sync")
        s.runs["check"] = copy.wdc("policy", "check", "--no-data")
        s.runs["day3"] = _materialize(copy, DAY_3)
        s.runs["catalog_day3"] = copy.wdc("catalog", "--format", "json")
        s.seen["day3"] = {
            "tables": _tables(lake),
            "rows": {
                relation: _rows(lake, relation, "order_date", DAY_3)
                for relation in ("sales.fct_orders_v1", "sales.fct_orders_v2", "sales.fct_orders")
            },
            "rows_v1_day_1": _rows(lake, "sales.fct_orders_v1", "order_date", "2026-11-01"),
            "columns": {
                relation: _columns(lake, relation)
                for relation in ("sales.fct_orders_v1", "sales.fct_orders_v2", "sales.fct_orders")
            },
            "ports": [_port_days(root, 1), _port_days(root, 2)],
            "finance_upstream": _finance_upstream(copy),
        }
        # 3. finance moves to major 2 (the latest: a plain ref)
        _pin_finance(project, None)
        s.runs["day4"] = _materialize(copy, DAY_4, UP_TO_FINANCE)
        s.seen["day4"] = {"finance_upstream": _finance_upstream(copy)}
        # 4. the deprecation date passes
        yesterday = (dt.date.today() - dt.timedelta(days=1)).isoformat()
        _set_until(project, yesterday)
        s.runs["sync_until"] = copy.wdc("contracts", "sync")
        s.runs["day5"] = _materialize(copy, DAY_5, UP_TO_FINANCE)
        s.seen["day5"] = {"tables": _tables(lake)}
        s.runs["catalog_day5"] = copy.wdc("catalog", "--format", "json")
        # a consumer still pinned to the retired major; one whose contract names a major that
        # its models do not read; one naming a major that does not exist
        _pin_finance(project, 1)
        s.runs["check_retired"] = copy.wdc("policy", "check", "--no-data")
        _pin_finance(project, 1, declared=2)
        s.runs["check_mismatch"] = copy.wdc("policy", "check", "--no-data")
        _pin_finance(project, None, declared=3)
        s.runs["check_unknown"] = copy.wdc("policy", "check", "--no-data")
        _pin_finance(project, 3)
        s.runs["check_no_version"] = copy.wdc("policy", "check", "--no-data")
        yield s


def test_the_rename_at_the_same_major_is_refused_before_anything_is_published(
    scenario: Scenario,
) -> None:
    check = scenario.runs["check_same"]
    assert check.returncode == 1, _output(check)
    assert "versioning.breaking_change_without_major_bump" in check.stdout + check.stderr
    run = scenario.runs["same"]
    assert run.returncode == 1, _output(run)
    assert "policy_versioning" in run.stdout + run.stderr
    seen = scenario.seen["same"]
    assert seen["rows"] == 0
    assert seen["tables"] == {"fct_orders": "BASE TABLE"}
    assert seen["ports"][0] == ["2026-11-01", "2026-11-02"] and seen["ports"][1] is None


def test_the_rename_at_2_0_0_passes_the_policies_and_publishes(scenario: Scenario) -> None:
    for step in ("sync", "check", "day3"):
        assert scenario.runs[step].returncode == 0, f"{step}: {_output(scenario.runs[step])}"
    assert scenario.seen["day3"]["tables"] == {
        "fct_orders": "BASE TABLE",
        "fct_orders_v1": "BASE TABLE",
        "fct_orders_v2": "VIEW",
    }


def test_both_majors_get_the_day_each_with_its_own_columns(scenario: Scenario) -> None:
    day3, orders = scenario.seen["day3"], _orders(scenario.root, DAY_3)
    assert orders > 0
    assert day3["rows"] == {
        "sales.fct_orders_v1": orders,
        "sales.fct_orders_v2": orders,
        "sales.fct_orders": orders,
    }
    v1, v2 = day3["columns"]["sales.fct_orders_v1"], day3["columns"]["sales.fct_orders"]
    assert "unit_count" in v1 and "units_count" not in v1
    assert "units_count" in v2 and "unit_count" not in v2
    assert day3["columns"]["sales.fct_orders_v2"] == v2
    # major 1 kept its history; major 2 starts at its first day (a backfill would fill it)
    assert day3["rows_v1_day_1"] > 0


def test_both_file_ports_have_the_day(scenario: Scenario) -> None:
    v1_days, v2_days = scenario.seen["day3"]["ports"]
    assert v1_days == ["2026-11-01", "2026-11-02", DAY_3]
    assert v2_days == [DAY_3]
    pointer_v2 = json.loads((scenario.root / PORTS / "v2/current.json").read_text())
    assert pointer_v2["version"] == "2.0.0"
    contract = yaml.safe_load((scenario.root / PORTS / "v2" / pointer_v2["contract"]).read_text())
    names = [c["name"] for c in contract["schema"][0]["properties"]]
    assert "units_count" in names and "unit_count" not in names
    assert DAY_3 in (_port_days(scenario.root, 2) or [])


def test_finance_builds_while_it_reads_major_1_and_after_it_moves_to_major_2(
    scenario: Scenario,
) -> None:
    lake, root = scenario.lake, scenario.root
    day3, day4 = scenario.seen["day3"], scenario.seen["day4"]
    assert "sales/fct_orders_v1" in day3["finance_upstream"]
    assert _rows(lake, "finance.fct_payments", "payment_date", DAY_3) > 0
    assert scenario.runs["day4"].returncode == 0, _output(scenario.runs["day4"])
    assert "sales/fct_orders" in day4["finance_upstream"]
    assert "sales/fct_orders_v1" not in day4["finance_upstream"]
    reconciled = _rows(lake, "finance.fct_payments", "payment_date", DAY_4)
    assert reconciled > 0 and _orders(root, DAY_4) > 0


def test_after_until_the_old_major_is_gone_and_the_log_says_so(scenario: Scenario) -> None:
    run = scenario.runs["day5"]
    assert run.returncode == 0, _output(run)
    assert scenario.seen["day5"]["tables"] == {"fct_orders": "BASE TABLE", "fct_orders_v2": "VIEW"}
    assert not (scenario.root / PORTS / "v1").exists() or not any(
        (scenario.root / PORTS / "v1").rglob("*.*")
    )
    assert _port_days(scenario.root, 2) == [DAY_3, DAY_4, DAY_5]
    log = (scenario.root / "logs/wdc.log").read_text()
    assert 'retiring lakehouse."sales"."fct_orders_v1"' in log
    assert "retiring sales.fct_orders v1: its deprecation date" in log


def test_a_consumer_pinned_to_the_retired_major_fails_the_security_policy(
    scenario: Scenario,
) -> None:
    check = scenario.runs["check_retired"]
    assert check.returncode == 1, _output(check)
    assert "security.retired_major" in check.stdout
    assert "finance reads sales.fct_orders v1" in check.stdout
    # its contract still names major 1: no longer served
    assert "security.unknown_major: depends on sales.fct_orders v1" in check.stdout


def test_the_declared_dependency_names_the_major_the_models_read(scenario: Scenario) -> None:
    # while reading major 1 and after moving to 2, declared and read agreed (the runs passed)
    mismatch = scenario.runs["check_mismatch"]
    assert mismatch.returncode == 1, _output(mismatch)
    assert (
        "finance.fct_payments: security.dependency_mismatch: declares it reads sales.fct_orders "
        "v2, its dbt models read v1" in mismatch.stdout
    )
    unknown = scenario.runs["check_unknown"]
    assert unknown.returncode == 1, _output(unknown)
    assert "security.unknown_major: depends on sales.fct_orders v3" in unknown.stdout


def _catalog_majors(done: subprocess.CompletedProcess[str]) -> dict[int, str | None]:
    assert done.returncode == 0, _output(done)
    entry = next(e for e in json.loads(done.stdout) if e["id"] == "sales.fct_orders")
    return {p["major"]: p["deprecated_until"] for p in entry["published"]}


def test_the_catalog_shows_the_old_major_deprecated_then_no_longer_lists_it(
    scenario: Scenario,
) -> None:
    assert _catalog_majors(scenario.runs["catalog_day3"]) == {1: "2027-03-31", 2: None}
    assert _catalog_majors(scenario.runs["catalog_day5"]) == {2: None}


def test_a_ref_to_a_major_no_version_serves_fails_in_one_line(scenario: Scenario) -> None:
    check = scenario.runs["check_no_version"]
    assert check.returncode == 1, _output(check)
    assert "Traceback" not in check.stderr
    assert "depends on a node named 'fct_orders' with version '3' which was not found" in (
        check.stderr
    )
