"""The descriptors are Open Data Contract Standard v3.0.2 contracts the ecosystem accepts: the real
datacontract CLI lints every descriptor and every contract published beside a Parquet port, and
tests a product's real file port (passing) and copies of it with a planted breach (failing)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml

from tests.conftest import MeshLake
from wdc_orchestration.governance.descriptor import (
    ProductDescriptor,
    descriptor_paths,
    load_descriptors,
    parse_descriptor,
)
from wdc_orchestration.governance.descriptor_legacy import legacy_to_odcs
from wdc_orchestration.governance.publishing import read_pointer
from wdc_orchestration.resources.lake import LocalLakeStorage
from wdc_orchestration.settings import PROJECT_ROOT

DATACONTRACT = str(Path(sys.executable).with_name("datacontract"))
DESCRIPTOR_FILES = descriptor_paths(PROJECT_ROOT / "domains")
# A product whose columns datacontract-cli 1.2.7 can all map to DuckDB types: it has no
# mapping for `timestamp with time zone` (docs/governance.md, "datacontract-cli").
TESTED = "sales.fct_order_items"


def _datacontract(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [DATACONTRACT, *args], capture_output=True, text=True, timeout=300, cwd=cwd
    )


def _lint(path: Path) -> dict[str, Any]:
    """`datacontract lint` with JSON results; asserts it ran."""
    results = path.with_suffix(".lint.json")
    done = _datacontract("lint", str(path), "--output-format", "json", "--output", str(results))
    assert results.exists(), done.stdout + done.stderr
    return {"returncode": done.returncode, **json.loads(results.read_text())}


def _assert_valid(lint: dict[str, Any]) -> None:
    assert lint["returncode"] == 0, lint
    assert lint["result"] == "passed", lint
    assert [c["name"] for c in lint["checks"]] == ["Data contract is valid against ODCS v3.0.2"]


def test_the_descriptors_are_the_seven_products() -> None:
    assert len(DESCRIPTOR_FILES) == 7


@pytest.mark.parametrize("path", DESCRIPTOR_FILES, ids=lambda p: p.stem)
def test_datacontract_lint_passes_on_every_descriptor(path: Path, tmp_path: Path) -> None:
    copy = tmp_path / path.name
    copy.write_text(path.read_text())
    _assert_valid(_lint(copy))


def test_datacontract_lint_refuses_the_pre_odcs_shape(tmp_path: Path) -> None:
    """The check can fail: the shape the descriptors had before is not ODCS."""
    d = load_descriptors(PROJECT_ROOT / "domains")[TESTED]
    old = d.as_dict()
    old["sla"] = {"freshness": "PT26H"}
    path = tmp_path / "old.yaml"
    path.write_text(yaml.safe_dump(old, sort_keys=False))
    lint = _lint(path)
    assert lint["returncode"] == 1 and lint["result"] == "failed"
    assert any("'sla' was unexpected" in (c.get("reason") or "") for c in lint["checks"]), lint


def test_a_pre_odcs_contract_converts_to_the_same_descriptor() -> None:
    """Contracts published before the change are read through the conversion, meaning intact."""
    old = yaml.safe_load(
        """
apiVersion: v3.0.2
kind: DataContract
id: sales.fct_order_items
name: fct_order_items
domain: sales
version: 1.0.0
status: active
team: {name: Time de Vendas, owner: vendas@wdc.example}
description: {purpose: p, usage: u, limitations: l}
schema:
- name: fct_order_items
  physicalType: table
  description: d
  properties:
  - {name: order_id, logicalType: integer, physicalType: bigint, required: true}
  - {name: paid_at, logicalType: timestamp, physicalType: timestamp with time zone}
  - {name: line_amount, logicalType: number, physicalType: 'decimal(18,2)', unit: BRL}
quality:
- {rule: unique_combination}
- {rule: not_null, column: order_id}
sla: {freshness: PT26H, updateSchedule: 0 2 * * *, retention: P5Y}
consumers: [finance]
outputPorts:
- {name: sql, type: ducklake, location: lakehouse.sales.fct_order_items}
- {name: files, type: parquet, location: products/sales/fct_order_items/v1/}
"""
    )
    d = parse_descriptor(old)
    assert (d.team.owner, d.team.name) == ("vendas@wdc.example", "Time de Vendas")
    assert d.sla.model_dump(by_alias=True) == {
        "freshness": "PT26H",
        "updateSchedule": "0 2 * * *",
        "retention": "P5Y",
    }
    assert d.consumers == ["finance"]
    assert {(q.rule, q.column) for q in d.quality} == {
        ("unique_combination", None),
        ("not_null", "order_id"),
    }
    assert [c.logical_type for c in d.columns] == ["integer", "timestamp", "number"]
    assert d.column("line_amount").unit == "BRL"
    assert [(p.type, p.location) for p in d.output_ports] == [
        ("ducklake", "lakehouse.sales.fct_order_items"),
        ("parquet", "products/sales/fct_order_items/v1/"),
    ]
    assert parse_descriptor(legacy_to_odcs(old)) == d == parse_descriptor(d.as_dict())


# --- the real ports of the materialised mesh -----------------------------------------------------


def _port_files(mesh: MeshLake, d: ProductDescriptor) -> list[Path]:
    lake = LocalLakeStorage(root=str(mesh.root / "lake"))
    pointer = read_pointer(lake, d.domain, d.name, d.major)
    assert pointer is not None, f"{d.id} was not published"
    return [mesh.root / "lake" / d.file_port_prefix / f for f in pointer["files"]]


def test_every_published_contract_passes_datacontract_lint(
    two_days: MeshLake, tmp_path: Path
) -> None:
    lake = LocalLakeStorage(root=str(two_days.root / "lake"))
    descriptors = load_descriptors(PROJECT_ROOT / "domains")
    for d in descriptors.values():
        pointer = read_pointer(lake, d.domain, d.name, d.major)
        contract = two_days.root / "lake" / d.file_port_prefix / pointer["contract"]
        copy = tmp_path / f"{d.domain}.{d.name}.yaml"
        copy.write_text(contract.read_text())
        _assert_valid(_lint(copy))
        assert parse_descriptor(yaml.safe_load(contract.read_text())) == d


def _contract_on(d: ProductDescriptor, parquet: Path, folder: Path) -> Path:
    """The product's contract with one more server: the given Parquet file, as datacontract's
    local server type reads it (read_parquet of `path`, with the contract's column types)."""
    data = d.as_dict()
    data["servers"].append(
        {"server": "port", "type": "local", "format": "parquet", "path": str(parquet)}
    )
    path = folder / f"{d.name}.odcs.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _test(contract: Path) -> dict[str, Any]:
    results = contract.with_suffix(".test.json")
    done = _datacontract(
        "test", "--server", "port", str(contract), "--output-format", "json", "--output",
        str(results),
    )  # fmt: skip
    assert results.exists(), done.stdout + done.stderr
    return {"returncode": done.returncode, **json.loads(results.read_text())}


def _not_passed(run: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [
        (c["name"], c["result"], c.get("reason") or "")
        for c in run["checks"]
        if c["result"] not in ("passed", "warning")
    ]


@pytest.fixture(scope="module")
def tested_product() -> ProductDescriptor:
    return load_descriptors(PROJECT_ROOT / "domains")[TESTED]


def test_datacontract_test_passes_on_the_real_file_port(
    two_days: MeshLake, tested_product: ProductDescriptor, tmp_path: Path
) -> None:
    (parquet,) = _port_files(two_days, tested_product)
    run = _test(_contract_on(tested_product, parquet, tmp_path))
    assert run["returncode"] == 0, run
    assert _not_passed(run) == []
    passed = {c["name"] for c in run["checks"] if c["result"] == "passed"}
    # the schema checks ran on the real rows: every column present, every required one without
    # nulls, the composite primary key without duplicates
    columns = tested_product.columns
    assert passed == (
        {f"Check that field '{c.name}' is present" for c in columns}
        | {f"Check that field {c.name} has no missing values" for c in columns if c.required}
        | {"Check that primary key (order_id, item_seq) has no duplicate values"}
    )


def _planted(source: Path, target: Path, select: str) -> Path:
    with duckdb.connect() as con:
        con.execute(f"copy ({select.format(port=source)}) to '{target}' (format parquet)")
    return target


def test_datacontract_test_fails_on_a_null_in_a_required_column(
    two_days: MeshLake, tested_product: ProductDescriptor, tmp_path: Path
) -> None:
    (parquet,) = _port_files(two_days, tested_product)
    breach = _planted(
        parquet,
        tmp_path / "null.parquet",
        "select * replace (case when row_number() over () = 1 then null else category_name end"
        " as category_name) from read_parquet('{port}')",
    )
    run = _test(_contract_on(tested_product, breach, tmp_path))
    assert run["returncode"] == 1 and run["result"] == "failed", run
    assert _not_passed(run) == [
        (
            "Check that field category_name has no missing values",
            "failed",
            "Actual missing_count(category_name) was 1, expected = 0",
        )
    ]


def test_datacontract_test_fails_on_a_column_of_the_wrong_type(
    two_days: MeshLake, tested_product: ProductDescriptor, tmp_path: Path
) -> None:
    (parquet,) = _port_files(two_days, tested_product)
    breach = _planted(
        parquet,
        tmp_path / "type.parquet",
        "select * replace ('#' || order_id as order_id) from read_parquet('{port}')",
    )
    run = _test(_contract_on(tested_product, breach, tmp_path))
    assert run["returncode"] == 1 and run["result"] == "failed", run
    reasons = " ".join(reason for _, _, reason in _not_passed(run))
    assert "Could not convert string '#" in reasons and "order_id" in reasons, run
