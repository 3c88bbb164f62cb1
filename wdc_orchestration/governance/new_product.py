"""`wdc new-product DOMAIN NAME --from MODEL`: a private dbt model of the domain becomes a public
data product.

It writes three files: the descriptor `domains/<domain>/products/<name>.yaml` (an ODCS contract
from the model's columns, names and types from its YAML's `data_type`s or else its built relation
in the lakehouse; descriptions from the model's YAML; owner from the domain's dbt group), the
model `models/<domain>/marts/<name>.sql` that selects those columns from MODEL, and its dbt YAML
entry (access public, contract enforced, group) through `wdc contracts sync`. What only the owner
can decide is left as TODO: the classification of each column, the allowed consumers and the
SLA; `wdc policy check` names each until it is filled in."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import yaml

from wdc_orchestration.governance.contract_sync import sync_contracts
from wdc_orchestration.governance.descriptor import (
    API_VERSION,
    TODO,
    descriptor_paths,
    parse_descriptor,
    servers_for,
)
from wdc_orchestration.governance.manifest import domains, models, node_domain
from wdc_orchestration.governance.policies.interoperability import MONEY_NAME
from wdc_orchestration.governance.types import MONEY_TYPE, normalise_type

log = logging.getLogger(__name__)

# A dbt model name that is also a plain SQL identifier (and the mesh's snake_case).
IDENTIFIER = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
FIRST_VERSION = "0.1.0"  # a draft: its file port is v0/ until the owner publishes 1.0.0
_INTEGERS = {"tinyint", "smallint", "integer", "bigint", "hugeint"}

Connect = Callable[[], AbstractContextManager[duckdb.DuckDBPyConnection]]


class NewProductError(ValueError):
    """Bad input: the message says what is wrong in one line."""


@dataclass(frozen=True)
class ModelColumn:
    name: str
    physical_type: str  # normalised (types.normalise_type)
    description: str


def logical_type(physical: str) -> str:
    """The ODCS logicalType of a DuckDB type (a timestamp is a `date` with a time)."""
    t = normalise_type(physical)
    if t in _INTEGERS:
        return "integer"
    if t.startswith("decimal") or t in ("double", "float"):
        return "number"
    if t == "boolean":
        return "boolean"
    if t == "date" or t.startswith("timestamp"):
        return "date"
    return "string"


def find_model(manifest: Mapping[str, Any], domain: str, name: str) -> Mapping[str, Any]:
    node = next((n for n in models(manifest) if n["name"] == name), None)
    if node is None:
        raise NewProductError(f"unknown model {name!r}: no dbt model of that name")
    owner = node_domain(node)
    if owner != domain:
        raise NewProductError(f"model {name!r} belongs to domain {owner!r}, not {domain!r}")
    if node.get("access") == "public":
        raise NewProductError(f"model {name!r} is already public (a product)")
    return node


def model_columns(node: Mapping[str, Any], connect: Connect | None) -> list[ModelColumn]:
    """The model's columns: from its YAML when every column declares a data_type, else from its
    built relation in the lakehouse (in the relation's order)."""
    documented = node.get("columns") or {}
    descriptions = {
        n: " ".join((c.get("description") or "").split()) for n, c in documented.items()
    }
    if documented and all(c.get("data_type") for c in documented.values()):
        return [
            ModelColumn(n, normalise_type(c["data_type"]), descriptions[n])
            for n, c in documented.items()
        ]
    relation = node.get("relation_name")
    materialized = node.get("config", {}).get("materialized")
    if not relation:
        raise NewProductError(
            f"model {node['name']!r} is {materialized}, with no relation to read its column types "
            "from: declare data_type on each of its columns in its YAML, or materialise it"
        )
    if connect is None:
        raise NewProductError(
            f"model {node['name']!r} declares no data_type for its columns and there is no "
            "lakehouse to read them from: run `wdc materialize` first, or declare them"
        )
    try:
        with connect() as conn:
            # a staging view reads its source's files from the session's read set
            from wdc_orchestration.dbt.duckdb_plugins.session import prepare_session

            prepare_session(conn)
            rows = conn.execute(f"describe {relation}").fetchall()
    except duckdb.Error as error:
        raise NewProductError(
            f"cannot read the columns of {relation} ({str(error).splitlines()[0]}): build the "
            f"model first (`wdc materialize`), or declare data_type on its columns"
        ) from error
    return [ModelColumn(r[0], normalise_type(r[1]), descriptions.get(r[0], "")) for r in rows]


def _column(c: ModelColumn) -> dict[str, Any]:
    column: dict[str, Any] = {
        "name": c.name,
        "logicalType": logical_type(c.physical_type),
        "physicalType": c.physical_type,
        "description": c.description or TODO,
        "classification": TODO,
    }
    if c.physical_type == MONEY_TYPE and MONEY_NAME.search(c.name):
        column["customProperties"] = [{"property": "unit", "value": "BRL"}]
    return column


def descriptor_document(
    domain: str,
    name: str,
    model: Mapping[str, Any],
    columns: list[ModelColumn],
    owner: Mapping[str, Any],
) -> dict[str, Any]:
    """The ODCS contract of the new product, with TODO where the owner decides."""
    text = " ".join((model.get("description") or "").split())
    major = int(FIRST_VERSION.split(".")[0])
    return {
        "apiVersion": API_VERSION,
        "kind": "DataContract",
        "id": f"{domain}.{name}",
        "name": name,
        "version": FIRST_VERSION,
        "status": "draft",
        "domain": domain,
        "description": {
            "purpose": text or TODO,
            "usage": f"Read the SQL port {domain}.{name} or its Parquet file port.",
            "limitations": f"Published from the {domain} model {model['name']}.",
        },
        "team": [
            {"username": owner.get("email", ""), "name": owner.get("name", ""), "role": "owner"}
        ],
        "schema": [
            {
                "name": name,
                "physicalType": "table",
                "description": text or TODO,
                "properties": [_column(c) for c in columns],
            }
        ],
        "slaProperties": [
            {"property": "latency", "value": TODO},
            {"property": "frequency", "value": TODO},
            {"property": "retention", "value": TODO},
        ],
        "servers": servers_for(domain, name, major),
        "customProperties": [
            {"property": "allowedConsumers", "value": TODO},
            {"property": "timeModel", "value": TODO},
        ],
    }


def _header(domain: str, name: str, model: str) -> str:
    return (
        f"# Data contract of {domain}.{name}, in the Open Data Contract Standard v3.0.2, written\n"
        f"# by `wdc new-product` from the {domain} model {model}. TODO, for the owner to decide\n"
        "# (`wdc policy check` names each until it is done):\n"
        "#   - the classification of every column: public, internal, confidential, personal or\n"
        "#     sensitive (personal/sensitive columns must be pseudonymised or generalised);\n"
        "#   - allowedConsumers: the domains that may read the product ([] for none yet);\n"
        "#   - timeModel: {kind: events, partitionColumn: <its day column>} for facts, or\n"
        "#     {kind: state, key: [<key>]} for a type-2 history (docs/time_model.md);\n"
        "#   - slaProperties: latency (freshness, e.g. PT26H), frequency (a cron such as\n"
        "#     0 2 * * *, America/Sao_Paulo) and retention (e.g. P5Y).\n"
        "# Then `wdc contracts sync` writes the dbt YAML from it (docs/governance.md).\n"
    )


def _model_sql(name: str, model: str, columns: list[ModelColumn]) -> str:
    select = ",\n".join(f"    {c.name}" for c in columns)
    return (
        f"-- Data product {name}: the columns of {model}, published under a contract\n"
        f"-- (domains/<domain>/products/{name}.yaml; the dbt contract is enforced).\n"
        f"select\n{select}\nfrom {{{{ ref('{model}') }}}}\n"
    )


def new_product(
    domain: str,
    name: str,
    model_name: str,
    manifest: Mapping[str, Any],
    domains_dir: Path,
    dbt_project_dir: Path,
    connect: Connect | None,
) -> list[Path]:
    """Write the descriptor, the model and its dbt YAML entry; the paths written."""
    known = domains(manifest)
    if domain not in known or not (domains_dir / domain).is_dir():
        raise NewProductError(f"unknown domain {domain!r} (domains: {', '.join(sorted(known))})")
    if not IDENTIFIER.match(name):
        raise NewProductError(
            f"{name!r} is not a valid product name: snake_case, starting with a letter "
            "(e.g. fct_daily_sales)"
        )
    existing = {p.stem for d in known for p in descriptor_paths(domains_dir, d)}
    if name in existing or any(n["name"] == name for n in models(manifest)):
        raise NewProductError(f"{name!r} exists already (a product or dbt model of that name)")
    model = find_model(manifest, domain, model_name)
    columns = model_columns(model, connect)
    group = next((g for g in manifest.get("groups", {}).values() if g["name"] == domain), {})
    document = descriptor_document(domain, name, model, columns, group.get("owner") or {})
    descriptor = parse_descriptor(document, f"{domain}.{name}", domain_folder=domain)

    descriptor_path = domains_dir / domain / "products" / f"{name}.yaml"
    sql_path = dbt_project_dir / "models" / domain / "marts" / f"{name}.sql"
    descriptor_path.parent.mkdir(parents=True, exist_ok=True)
    sql_path.parent.mkdir(parents=True, exist_ok=True)
    dumped = yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)
    descriptor_path.write_text(_header(domain, name, model_name) + dumped)
    sql_path.write_text(_model_sql(name, model_name, columns))
    yaml_paths = sync_contracts([descriptor], dbt_project_dir)
    log.info("%s.%s: a draft product from %s, %d columns", domain, name, model_name, len(columns))
    return [descriptor_path, sql_path, *yaml_paths]
