"""`wdc new-product DOMAIN NAME --from MODEL`, in a temporary copy of the project: a private
staging model of the materialised mesh becomes a draft product; `wdc policy check` names exactly
what the owner still decides (classifications, consumers, SLA), one line each; once they are
filled in (and synced), every policy passes. Bad input: one clear line, exit 2, nothing written."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import MeshLake
from tests.test_contracts_sync import _copy_project, dbt_parse
from wdc_orchestration.cli import main
from wdc_orchestration.dbt.project import load_manifest
from wdc_orchestration.governance.descriptor import load_descriptor

MODEL = "stg_catalog__categories"
# The copy documents the staging model as an owner would before publishing it (the repository's
# staging descriptions are terse, and the documentation policy would rightly ask for more).
DESCRIPTIONS = {
    "category_id": "The ERP's category key (id_categoria).",
    "category_name": "The category's display name in the catalogue.",
    "department": "The store department the category is sold in.",
    "partition_date": "Day of the ERP snapshot the row comes from (America/Sao_Paulo).",
}


def _document_model(project: Path) -> None:
    path = project / "models/catalog/staging/_catalog__staging.yml"
    data = yaml.safe_load(path.read_text())
    model = next(m for m in data["models"] if m["name"] == MODEL)
    for column in model["columns"]:
        column["description"] = DESCRIPTIONS[column["name"]]
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def _policy_check(domains: Path, manifest: dict[str, Any], tmp_path: Path) -> tuple[int, str]:
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(manifest))
    code = main(
        ["policy", "check", "--no-data", "--domains-dir", str(domains), "--manifest", str(path)]
    )
    return code, path.name


def test_a_private_model_becomes_a_product_whose_todos_the_policy_check_names(
    two_days: MeshLake, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    domains, project = _copy_project(tmp_path)
    _document_model(project)
    manifest_path = tmp_path / "before.json"
    manifest_path.write_text(json.dumps(dbt_parse(project)))
    paths = ["--domains-dir", str(domains), "--dbt-project-dir", str(project)]

    code = main(
        ["new-product", "catalog", "dim_categories", "--from", MODEL, *paths,
         "--manifest", str(manifest_path)]
    )  # fmt: skip
    assert code == 0
    descriptor_path = domains / "catalog/products/dim_categories.yaml"
    assert capsys.readouterr().out.splitlines() == [
        f"wrote {descriptor_path}",
        f"wrote {project / 'models/catalog/marts/dim_categories.sql'}",
        f"wrote {project / 'models/catalog/marts/_catalog__marts.yml'}",
    ]
    # the columns and types are the built view's, in the lakehouse of the materialised mesh
    from wdc_orchestration.dbt.duckdb_plugins.session import prepare_session

    with two_days.connect() as con:
        prepare_session(con)  # the view reads the raw files the session names
        built = con.execute(f"describe lakehouse.catalog__audit.{MODEL}").fetchall()
    d = load_descriptor(descriptor_path)
    assert [(c.name, c.physical_type) for c in d.columns] == [
        (name, kind.lower()) for name, kind, *_ in built
    ]
    assert [c.description for c in d.columns] == list(DESCRIPTIONS.values())
    assert (d.team.owner, d.status, d.version) == ("catalogo@wdc.example", "draft", "0.1.0")
    text = descriptor_path.read_text()
    assert text.count("classification: TODO") == 4 and "value: TODO" in text
    lint = subprocess.run(
        [str(Path(sys.executable).with_name("datacontract")), "lint", str(descriptor_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr

    # dbt: a public model with an enforced contract in the catalog group
    manifest = dbt_parse(project)
    node = next(n for n in manifest["nodes"].values() if n["name"] == "dim_categories")
    assert (node["access"], node["group"], node["config"]["contract"]["enforced"]) == (
        "public",
        "catalog",
        True,
    )

    code, _ = _policy_check(domains, manifest, tmp_path)
    lines = capsys.readouterr().out.splitlines()
    assert code == 1
    assert [line.split(": ")[:2] for line in lines] == [
        ["catalog.dim_categories", "compliance.classification_missing"],
        ["catalog.dim_categories", "compliance.sla_missing"],
        ["catalog.dim_categories", "documentation.time_model_missing"],
        ["catalog.dim_categories", "security.consumers_undecided"],
    ]
    assert (
        "category_id, category_name, department, partition_date have no classification"
        in (lines[0])
    )
    assert all(word in lines[1] for word in ("no latency (freshness", "frequency", "retention"))
    assert "does not say how it moves in time" in lines[2]
    assert "allowed consumers are not decided" in lines[3]

    # the owner decides, syncs the dbt YAML, and every policy passes
    data = yaml.safe_load(text)
    for column in data["schema"][0]["properties"]:
        column["classification"] = "internal"
    data["customProperties"] = [
        {"property": "allowedConsumers", "value": ["sales"]},
        # one row per category per daily snapshot: the day is the partition
        {"property": "timeModel", "value": {"kind": "events", "partitionColumn": "partition_date"}},
    ]
    data["slaProperties"] = [
        {"property": "latency", "value": "PT26H"},
        {"property": "frequency", "value": "0 2 * * *"},
        {"property": "retention", "value": "P5Y"},
    ]
    descriptor_path.write_text(yaml.safe_dump(data, sort_keys=False))
    assert main(["contracts", "sync", *paths]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"wrote {project / 'models/catalog/marts/_catalog__marts.yml'}"
    ]
    code, _ = _policy_check(domains, dbt_parse(project), tmp_path)
    assert capsys.readouterr().out == ""
    assert code == 0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["nowhere", "dim_x", "--from", MODEL], "unknown domain 'nowhere' (domains: catalog, "),
        (["catalog", "dim_x", "--from", "stg_nope"], "unknown model 'stg_nope'"),
        (["catalog", "dim_products", "--from", MODEL], "'dim_products' exists already"),
        (["catalog", "fct_orders", "--from", MODEL], "'fct_orders' exists already"),
        (["catalog", "Dim-Categories", "--from", MODEL], "'Dim-Categories' is not a valid"),
        (["catalog", "dim_x", "--from", "stg_sales__orders"], "belongs to domain 'sales'"),
        (["sales", "fct_x", "--from", "fct_orders"], "'fct_orders' is already public"),
        (
            ["sales", "fct_x", "--from", "int_sales__order_item_totals"],
            "is ephemeral, with no relation to read its column types from",
        ),
    ],
)
def test_new_product_refuses_bad_input_in_one_line(
    argv: list[str], message: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    domains, project = _copy_project(tmp_path)
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps(load_manifest()))
    before = sorted(p for p in tmp_path.rglob("*") if p.is_file())
    code = main(
        ["new-product", *argv, "--manifest", str(manifest), "--domains-dir", str(domains),
         "--dbt-project-dir", str(project)]
    )  # fmt: skip
    assert code == 2
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1 and message in errors[0], errors
    assert "\n" not in errors[0]
    assert sorted(p for p in tmp_path.rglob("*") if p.is_file()) == before
