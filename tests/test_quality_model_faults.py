"""A code defect is not a source fault: the raw day stays where it landed (issue 23).

On a copy of the session's lake (two clean days), day 3 lands clean raw data in every domain and
passes every raw gate, but sales' product breaks a policy: its working contract drops a column
the published contract of the same major promises (what a rename without a major bump does).
The versioning policy, a blocking audit gate on `sales/fct_orders`, refuses it, so:

- the run fails (exit 1), its incident names the product and the policy, and nothing of sales'
  day 3 is published (the public tables and the file port keep their last good version), nor of
  the domains that read sales (finance, logistics wait for the product and fail, naming it);
- every raw file of day 3, in every domain, is where it landed, byte for byte; nothing is
  quarantined;
- once the defect is removed (here: the contract side of the planted drift restored),
  `wdc quarantine retry --domain sales --day 3` builds from the same raw files and publishes sales
  and its consumers, and resolves the incidents.

The fault is planted in the copy's published contract (the lake side of the comparison), not in
the working tree: other tests read the repository's contracts while this one runs."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.conftest import MeshLake, copy_lake
from wdc_orchestration.settings import environment, isolated_lake_env

DAY_3 = "2026-11-03"
PLANTED = "order_note"  # the column the published contract has and the working one "dropped"
PORT = "lake/products/sales/fct_orders/v1"


@dataclass
class Outcome:
    root: Path
    exit_bad: int
    raw_after_bad: dict[str, str]
    quarantine_after_bad: list[str]
    rows_day_3_after_bad: dict[str, int]
    pointer_before: str
    pointer_after_bad: str
    incidents: list[object]
    exit_retry: int
    rows_day_3_after_retry: dict[str, int]
    raw_after_retry: dict[str, str]
    resolved: list[object]


PRODUCTS = {
    "sales.fct_orders": "order_date",
    "finance.fct_payments": "payment_date",
    "logistics.fct_shipments": "shipment_date",
}


def _raw_files(root: Path) -> dict[str, str]:
    base = root / "lake/raw"
    return {
        p.relative_to(base).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(base.glob(f"*/*/date={DAY_3}/*"))
    }


def _rows_of_day(lake: MeshLake) -> dict[str, int]:
    with lake.connect() as con:
        return {
            table: con.execute(
                f"select count(*) from lakehouse.{table} where {column} = '{DAY_3}'"
            ).fetchone()[0]
            for table, column in PRODUCTS.items()
        }


def _published_contract(root: Path) -> Path:
    pointer = json.loads((root / PORT / "current.json").read_text())
    return root / PORT / pointer["contract"]


@pytest.fixture(scope="module")
def outcome(two_days: MeshLake, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Outcome]:
    from wdc_orchestration.cli import main
    from wdc_orchestration.quality.incidents import list_incidents
    from wdc_orchestration.resources.lake import LocalLakeStorage

    root = tmp_path_factory.mktemp("wdc-model-fault")
    lake = copy_lake(two_days, root)
    storage = LocalLakeStorage(root=str(root / "lake"))
    contract = _published_contract(root)
    kept = contract.read_text()
    published = yaml.safe_load(kept)
    published["schema"][0]["properties"].append(
        {
            "name": PLANTED,
            "logicalType": "string",
            "physicalType": "varchar",
            "description": "A note on the order.",
            "classification": "internal",
        }
    )
    with environment(isolated_lake_env(root)):
        known = {i.incident_id for i in list_incidents(storage)}
        pointer_before = (root / PORT / "current.json").read_text()
        contract.write_text(yaml.safe_dump(published, sort_keys=False))
        bad = main(["materialize", "--start", DAY_3, "--log-level", "ERROR"])
        raw_after_bad = _raw_files(root)
        incidents = [i for i in list_incidents(storage) if i.incident_id not in known]
        after_bad = {
            "quarantine": sorted(
                p.relative_to(root / "lake").as_posix()
                for p in (root / "lake/quarantine").rglob("*")
                if p.is_file()
            ),
            "rows": _rows_of_day(lake),
            "pointer": (root / PORT / "current.json").read_text(),
        }
        contract.write_text(kept)  # the defect removed
        retry = main(["quarantine", "retry", "--domain", "sales", "--day", DAY_3])
        resolved = [
            i
            for i in list_incidents(storage)
            if i.incident_id in {x.incident_id for x in incidents} and i.resolved_at
        ]
        yield Outcome(
            root=root,
            exit_bad=bad,
            raw_after_bad=raw_after_bad,
            quarantine_after_bad=after_bad["quarantine"],
            rows_day_3_after_bad=after_bad["rows"],
            pointer_before=pointer_before,
            pointer_after_bad=after_bad["pointer"],
            incidents=incidents,
            exit_retry=retry,
            rows_day_3_after_retry=_rows_of_day(lake),
            raw_after_retry=_raw_files(root),
            resolved=resolved,
        )


def test_the_run_fails_naming_the_product_and_the_policy(outcome: Outcome) -> None:
    assert outcome.exit_bad == 1
    policy = [
        i
        for i in outcome.incidents
        if i.asset == "sales/fct_orders" and i.check == "policy_versioning"
    ]
    assert policy, [(i.asset, i.check) for i in outcome.incidents]
    assert PLANTED in policy[0].description


def test_nothing_of_the_day_is_published(outcome: Outcome) -> None:
    assert outcome.rows_day_3_after_bad == dict.fromkeys(PRODUCTS, 0)
    assert outcome.pointer_after_bad == outcome.pointer_before  # the file port: last good


def test_the_raw_files_did_not_move(outcome: Outcome) -> None:
    raw = outcome.raw_after_bad
    # every domain's day 3 landed, and stays landed: data files and manifests
    for entity in ("sales/orders", "sales/order_items", "finance/payments"):
        assert f"{entity}/date={DAY_3}/_manifest.json" in raw, entity
    assert outcome.quarantine_after_bad == []
    assert all(i.quarantined == () for i in outcome.incidents)
    # the retry built from the very same files: nothing landed again, nothing moved
    assert outcome.raw_after_retry == raw


def test_once_the_defect_is_removed_the_retry_publishes(outcome: Outcome) -> None:
    assert outcome.exit_retry == 0
    rows = outcome.rows_day_3_after_retry
    manifest = outcome.root / f"lake/raw/sales/orders/date={DAY_3}/_manifest.json"
    assert rows["sales.fct_orders"] == json.loads(manifest.read_text())["rows"] > 0
    assert rows["finance.fct_payments"] > 0 and rows["logistics.fct_shipments"] > 0
    assert outcome.resolved and len(outcome.resolved) == len(
        [i for i in outcome.incidents if i.domain == "sales"]
    )
