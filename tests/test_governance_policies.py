"""The five federated policies, the contract drift and the versioning rules: the compliant
project passes every one; a fixture that violates each (built in temporary copies, never in the
real project) fails it with a message naming the product, the column and the fix."""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from wdc_orchestration.dbt.project import load_manifest
from wdc_orchestration.governance.descriptor import (
    DescriptorError,
    ProductDescriptor,
    load_descriptors,
    parse_descriptor,
)
from wdc_orchestration.governance.policies import (
    GovernanceInputs,
    evaluate,
    load_inputs,
    static_violations,
)
from wdc_orchestration.governance.policies.compliance import load_raw_retention
from wdc_orchestration.governance.policies.versioning import check_versioning
from wdc_orchestration.governance.violations import Violation
from wdc_orchestration.settings import DBT_PROJECT_DIR, PROJECT_ROOT, get_settings

DOMAINS = PROJECT_ROOT / "domains"


def _rules(violations: list[Violation]) -> set[tuple[str, str]]:
    return {(v.product, v.rule) for v in violations}


def _copy_domains(tmp_path: Path) -> Path:
    target = tmp_path / "domains"
    for path in DOMAINS.glob("*/products/*.yaml"):
        destination = target / path.relative_to(DOMAINS)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, destination)
    return target


def _edit_descriptor(domains_dir: Path, product_id: str, edit) -> None:
    domain, name = product_id.split(".")
    path = domains_dir / domain / "products" / f"{name}.yaml"
    data = yaml.safe_load(path.read_text())
    edit(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))


def _columns(data: dict[str, Any]) -> list[dict[str, Any]]:
    return data["schema"][0]["properties"]


def _set_custom(holder: dict[str, Any], name: str, value: Any) -> None:
    """Set the ODCS custom property `name` of a descriptor or column (None removes it)."""
    custom = [p for p in holder.get("customProperties", []) if p["property"] != name]
    if value is not None:
        custom.append({"property": name, "value": value})
    holder["customProperties"] = custom


def _allow(consumers: list[str]):
    return lambda data: _set_custom(data, "allowedConsumers", consumers)


def _files_server(data: dict[str, Any]) -> dict[str, Any]:
    return next(s for s in data["servers"] if s["server"] == "files")


def _manifest_model(manifest: dict[str, Any], name: str) -> dict[str, Any]:
    return next(
        n for n in manifest["nodes"].values() if n["resource_type"] == "model" and n["name"] == name
    )


def _dbt_parse(project: Path) -> subprocess.CompletedProcess[str]:
    dbt = Path(sys.executable).with_name("dbt")
    return subprocess.run(
        [str(dbt), "parse", "--project-dir", str(project), "--profiles-dir", str(project)],
        env={**os.environ, **get_settings().dbt_env()},
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    return load_manifest()


def test_the_compliant_project_passes_every_static_policy(manifest: dict[str, Any]) -> None:
    inputs = load_inputs(DOMAINS, manifest)
    assert len(inputs.descriptors) == 7
    assert static_violations(inputs) == []


def test_descriptor_files_are_validated_with_the_file_and_field_named(tmp_path: Path) -> None:
    domains = _copy_domains(tmp_path)
    _edit_descriptor(domains, "sales.fct_orders", lambda d: d.update(version="1.0"))
    with pytest.raises(DescriptorError, match=r"fct_orders\.yaml: version: .*not semantic"):
        load_descriptors(domains)
    domains = _copy_domains(tmp_path / "b")
    _edit_descriptor(domains, "sales.fct_orders", lambda d: _files_server(d).update(path="x/"))
    with pytest.raises(DescriptorError, match="parquet output port must be"):
        load_descriptors(domains)


# --- privacy -------------------------------------------------------------------------------------


def test_a_product_exposing_a_raw_cpf_column_fails_privacy(tmp_path: Path) -> None:
    """dim_customers grows a `cpf` column in its SQL, dbt YAML and descriptor (classified
    `internal`, as a careless author would): dbt parses it, the privacy policy refuses it."""
    project = tmp_path / "dbt_project"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs"))
    sql = project / "models/customers/marts/dim_customers.sql"
    text = sql.read_text()
    assert "        signup_date,\n" in text
    sql.write_text(
        text.replace("        signup_date,\n", "        cpf,\n        signup_date,\n", 1)
    )
    marts = project / "models/customers/marts/_customers__marts.yml"
    model_yaml = yaml.safe_load(marts.read_text())
    model_yaml["models"][0]["columns"].insert(
        1,
        {
            "name": "cpf",
            "description": "The customer's CPF.",
            "data_type": "varchar",
            "meta": {"classification": "internal"},
        },
    )
    marts.write_text(yaml.safe_dump(model_yaml, sort_keys=False))
    parsed = _dbt_parse(project)
    assert parsed.returncode == 0, parsed.stdout + parsed.stderr
    manifest = json.loads((project / "target/manifest.json").read_text())

    domains = _copy_domains(tmp_path)
    column = {
        "name": "cpf",
        "logicalType": "string",
        "physicalType": "varchar",
        "description": "The customer's CPF.",
        "classification": "internal",
    }
    _edit_descriptor(domains, "customers.dim_customers", lambda d: _columns(d).insert(1, column))
    violations = static_violations(load_inputs(domains, manifest))

    privacy = [v for v in violations if v.rule == "privacy.identifier_in_clear"]
    assert [v.product for v in privacy] == ["customers.dim_customers"]
    assert "column cpf" in privacy[0].why and "pseudonymise" in privacy[0].fix
    # and nothing else is wrong with the fixture: the failure is the privacy policy's
    assert {v.policy.value for v in violations} == {"privacy"}


def test_personal_columns_must_be_pseudonymised_or_generalised(manifest: dict[str, Any]) -> None:
    descriptors = load_descriptors(DOMAINS)
    data = descriptors["customers.dim_customers"].as_dict()
    for column in _columns(data):
        if column["name"] == "age_band":
            _set_custom(column, "privacy", None)  # a personal column published as is
        if column["name"] == "uf":
            column["classification"] = "sensitive"
    altered = {**descriptors, "customers.dim_customers": parse_descriptor(data)}
    found = static_violations(GovernanceInputs(altered, manifest, load_raw_retention(DOMAINS)))
    rules = {(v.rule, v.why.split(" ")[1]) for v in found if v.policy.value == "privacy"}
    assert ("privacy.personal_in_clear", "age_band") in rules
    assert ("privacy.sensitive_in_clear", "uf") in rules


def test_a_column_declared_pseudonymised_must_be_computed_by_the_macro(
    manifest: dict[str, Any],
) -> None:
    altered = copy.deepcopy(manifest)
    node = _manifest_model(altered, "fct_orders")
    computed = "* replace ({{ pseudonymise('customer_id') }} as customer_id)"
    assert computed in node["raw_code"], "the fault no longer matches fct_orders.sql"
    node["raw_code"] = node["raw_code"].replace(computed, "*")
    found = static_violations(load_inputs(DOMAINS, altered))
    assert _rules(found) == {("sales.fct_orders", "privacy.pseudonymisation_missing")}


# --- security ------------------------------------------------------------------------------------


def test_a_cross_domain_ref_to_a_private_model_fails_dbt_parse(tmp_path: Path) -> None:
    """dbt's groups + access: a logistics model ref'ing sales' private staging model."""
    project = tmp_path / "dbt_project"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs"))
    (project / "models/logistics/marts/peek_at_orders.sql").write_text(
        "select order_id from {{ ref('stg_sales__orders') }}\n"
    )
    parsed = _dbt_parse(project)
    output = parsed.stdout + parsed.stderr
    assert parsed.returncode != 0
    assert "stg_sales__orders" in output and "private" in output, output


def test_a_cross_domain_ref_to_a_private_model_fails_the_security_policy(
    manifest: dict[str, Any],
) -> None:
    """The same read, caught by the policy over the manifest (also where dbt's guard is off)."""
    altered = copy.deepcopy(manifest)
    shipments = _manifest_model(altered, "fct_shipments")
    staging = _manifest_model(altered, "stg_sales__orders")
    shipments["depends_on"]["nodes"].append(staging["unique_id"])
    found = static_violations(load_inputs(DOMAINS, altered))
    assert _rules(found) == {("logistics.fct_shipments", "security.private_model_ref")}
    (violation,) = found
    assert "sales.stg_sales__orders" in violation.why and "private" in violation.why


def test_reading_a_product_that_does_not_list_the_reader_fails_security(
    tmp_path: Path, manifest: dict[str, Any]
) -> None:
    domains = _copy_domains(tmp_path)
    _edit_descriptor(domains, "sales.fct_orders", _allow(["finance"]))
    found = static_violations(load_inputs(domains, manifest))
    assert ("logistics.fct_shipments", "security.consumer_not_allowed") in _rules(found)
    line = next(v for v in found if v.rule == "security.consumer_not_allowed").line()
    assert "logistics reads sales.fct_orders" in line
    assert "add logistics to allowedConsumers" in line


def test_reading_another_domains_raw_source_fails_security(manifest: dict[str, Any]) -> None:
    altered = copy.deepcopy(manifest)
    revenue = _manifest_model(altered, "fct_daily_revenue")
    revenue["depends_on"]["nodes"].append("source.wdc.customers_raw.customers")
    found = static_violations(load_inputs(DOMAINS, altered))
    assert _rules(found) == {("finance.fct_daily_revenue", "security.cross_domain_source")}


# --- documentation, compliance, interoperability, contract drift ---------------------------------


def test_an_undocumented_column_fails_documentation(
    tmp_path: Path, manifest: dict[str, Any]
) -> None:
    altered = copy.deepcopy(manifest)
    _manifest_model(altered, "fct_payments")["columns"]["installments"]["description"] = ""
    domains = _copy_domains(tmp_path)

    def undocument(data: dict[str, Any]) -> None:
        next(c for c in _columns(data) if c["name"] == "installments")["description"] = ""
        data["description"]["purpose"] = ""

    _edit_descriptor(domains, "finance.fct_payments", undocument)
    found = static_violations(load_inputs(domains, altered))
    assert _rules(found) == {
        ("finance.fct_payments", "documentation.column_description_missing"),
        ("finance.fct_payments", "documentation.purpose_missing"),
    }
    assert any("column installments has no description" in v.why for v in found)


def test_missing_classification_retention_and_raw_retention_fail_compliance(
    tmp_path: Path, manifest: dict[str, Any]
) -> None:
    domains = _copy_domains(tmp_path)

    def strip(data: dict[str, Any]) -> None:
        next(c for c in _columns(data) if c["name"] == "carrier_code").pop("classification")
        data["slaProperties"] = [p for p in data["slaProperties"] if p["property"] != "retention"]

    _edit_descriptor(domains, "logistics.fct_shipments", strip)
    # the logistics domain forgets its raw tracking data
    retention = domains / "logistics/products/_raw_retention.yaml"
    retention.write_text("raw:\n  carrier_slas: {classification: internal, retention: P5Y}\n")
    # the dbt meta still says `internal`: unclassifying only the descriptor is also drift
    found = static_violations(load_inputs(domains, manifest))
    rules = _rules(found)
    assert ("logistics.fct_shipments", "compliance.classification_missing") in rules
    assert ("logistics.fct_shipments", "compliance.retention_missing") in rules
    assert ("logistics.raw.shipments", "compliance.raw_retention_missing") in rules
    assert {v.policy.value for v in found} == {"compliance", "contract"}


def test_a_float_money_column_fails_interoperability(
    tmp_path: Path, manifest: dict[str, Any]
) -> None:
    domains = _copy_domains(tmp_path)

    def to_float(data: dict[str, Any]) -> None:
        column = next(c for c in _columns(data) if c["name"] == "unit_price")
        column["physicalType"] = "double"

    _edit_descriptor(domains, "sales.fct_order_items", to_float)
    altered = copy.deepcopy(manifest)
    _manifest_model(altered, "fct_order_items")["columns"]["unit_price"]["data_type"] = "double"
    found = static_violations(load_inputs(domains, altered))
    assert _rules(found) == {("sales.fct_order_items", "interoperability.money")}
    assert "money column unit_price is double" in found[0].why
    assert "decimal(18, 2)" in found[0].fix


def test_naive_timestamps_and_mismatched_shared_keys_fail_interoperability(
    manifest: dict[str, Any],
) -> None:
    descriptors = load_descriptors(DOMAINS)
    data = descriptors["logistics.fct_shipments"].as_dict()
    for column in _columns(data):
        if column["name"] == "shipped_at":
            column["physicalType"] = "timestamp"
        if column["name"] == "order_id":
            column["physicalType"] = "varchar"
            column["logicalType"] = "string"
    altered = {**descriptors, "logistics.fct_shipments": parse_descriptor(data)}
    found = [
        v
        for v in static_violations(GovernanceInputs(altered, manifest, load_raw_retention(DOMAINS)))
    ]
    interop = {(v.rule, v.why.split(" ")[2]) for v in found if v.policy.value == "interoperability"}
    assert interop == {
        ("interoperability.timestamp", "shipped_at"),
        ("interoperability.shared_key_type", "order_id"),
    }


def test_a_descriptor_drifting_from_the_dbt_yaml_fails_the_contract(
    tmp_path: Path, manifest: dict[str, Any]
) -> None:
    domains = _copy_domains(tmp_path)

    def drift(data: dict[str, Any]) -> None:
        columns = _columns(data)
        next(c for c in columns if c["name"] == "stock_quantity")["physicalType"] = "bigint"
        columns.append(
            {
                "name": "supplier",
                "logicalType": "string",
                "physicalType": "varchar",
                "description": "Supplier of the product.",
                "classification": "internal",
            }
        )

    _edit_descriptor(domains, "catalog.dim_products", drift)
    found = static_violations(load_inputs(domains, manifest))
    whys = [v.why for v in found if v.rule == "contract.drift"]
    assert "column stock_quantity is bigint in the descriptor but integer in dbt" in whys
    assert "column supplier is in the descriptor but not in the dbt YAML" in whys


# --- versioning ----------------------------------------------------------------------------------


def _variant(d: ProductDescriptor, edit) -> ProductDescriptor:
    data = d.as_dict()
    edit(data)
    return parse_descriptor(data)


def test_a_breaking_change_without_a_major_bump_fails_versioning() -> None:
    published = load_descriptors(DOMAINS)["sales.fct_orders"]

    def break_it(data: dict[str, Any]) -> None:
        data["version"] = "1.1.0"
        columns = _columns(data)
        columns[:] = [c for c in columns if c["name"] != "channel"]
        next(c for c in columns if c["name"] == "item_count")["physicalType"] = "integer"

    (violation,) = check_versioning(_variant(published, break_it), published)
    assert violation.rule == "versioning.breaking_change_without_major_bump"
    assert "column channel removed" in violation.why
    assert "column item_count narrowed bigint -> integer" in violation.why
    assert "bump version to 2.0.0" in violation.fix


def test_a_rename_is_reported_as_such() -> None:
    published = load_descriptors(DOMAINS)["sales.fct_orders"]

    def rename(data: dict[str, Any]) -> None:
        next(c for c in _columns(data) if c["name"] == "channel")["name"] = "sales_channel"

    (violation,) = check_versioning(_variant(published, rename), published)
    assert "column channel removed (renamed to sales_channel?)" in violation.why


def test_a_major_bump_with_a_deprecation_date_passes_versioning() -> None:
    published = load_descriptors(DOMAINS)["sales.fct_orders"]

    def bump(data: dict[str, Any], deprecation: bool = True) -> None:
        data["version"] = "2.0.0"
        _files_server(data)["path"] = ".lake/products/sales/fct_orders/v2/"
        data["schema"][0]["properties"] = [c for c in _columns(data) if c["name"] != "channel"]
        if deprecation:
            _set_custom(data, "deprecation", {"previousMajor": 1, "until": "2027-06-30"})

    assert check_versioning(_variant(published, bump), published) == []
    without = check_versioning(_variant(published, lambda d: bump(d, False)), published)
    assert _rules(without) == {("sales.fct_orders", "versioning.deprecation_missing")}


def test_additive_changes_need_a_minor_bump_and_widening_is_not_breaking() -> None:
    published = load_descriptors(DOMAINS)["sales.fct_orders"]

    def widen(data: dict[str, Any]) -> None:
        next(c for c in _columns(data) if c["name"] == "unit_count")["physicalType"] = "bigint"

    same_version = check_versioning(_variant(published, widen), published)
    assert _rules(same_version) == {("sales.fct_orders", "versioning.change_without_version_bump")}
    bumped = _variant(published, lambda d: (widen(d), d.update(version="1.1.0")))
    assert check_versioning(bumped, published) == []


# --- the command line ----------------------------------------------------------------------------


def test_wdc_policy_check_prints_one_line_per_violation_and_fails(
    tmp_path: Path, manifest: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    from wdc_orchestration.cli import main

    manifest_path = tmp_path / "manifest.json"
    manifest_path.write_text(json.dumps(manifest))
    common = ["--no-data", "--manifest", str(manifest_path)]
    assert main(["policy", "check", *common]) == 0
    assert capsys.readouterr().out == ""

    domains = _copy_domains(tmp_path)
    _edit_descriptor(domains, "sales.fct_orders", _allow(["finance"]))
    assert main(["policy", "check", *common, "--domains-dir", str(domains)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        "logistics.fct_shipments: security.consumer_not_allowed: logistics reads sales.fct_orders,"
        " whose allowed consumers are ['finance'] -> fix: ask sales to add logistics to"
        " allowedConsumers in sales.fct_orders's descriptor, or stop reading it"
    ]


def test_evaluate_without_data_or_lake_runs_only_the_static_policies(
    manifest: dict[str, Any],
) -> None:
    assert evaluate(load_inputs(DOMAINS, manifest), conn=None, published=None) == []
