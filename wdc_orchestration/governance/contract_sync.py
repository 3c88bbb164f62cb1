"""`wdc contracts sync`: the contract part of the dbt YAML, written from the descriptors.

For each product the descriptor decides the dbt model's `description`, its `config` keys
`access: public`, `contract: {enforced: true}` and `group: <domain>`, and its `columns`: which, in
which order, with `description`, `data_type` and `meta: {classification, privacy}`. Everything
else in the dbt YAML is kept as it is: the data tests of the model and of each column (their
arguments, severities), constraints, other config and meta keys, other models of the file. Those
are dbt's test configuration, edited in the dbt YAML; the descriptor promises the tests as
`quality` items and the contract policy checks that the two still match.

The product's YAML entry is found in any `.yml` of `models/<domain>/`; a new product goes into
`models/<domain>/marts/_<domain>__marts.yml`. A file is rewritten as a whole in one fixed style
(comments in it are not kept), and only when its text changes: a second sync writes nothing."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from wdc_orchestration.governance.descriptor import Column, ProductDescriptor
from wdc_orchestration.settings import DBT_PROJECT_DIR
from wdc_orchestration.yamlio import load_yaml

log = logging.getLogger(__name__)

HEADER = (
    "# The products' descriptions, config (access, contract, group) and columns (name,\n"
    "# description, data_type, meta) are written by `wdc contracts sync` from\n"
    "# domains/{domain}/products/*.yaml: edit them there. Tests and constraints are edited\n"
    "# here (the descriptor promises them as quality items).\n"
)
_COLUMN_KEYS = ("name", "description", "data_type", "meta")
_FOLD_AT = 80  # longer descriptions are written as folded block scalars (`>`), as by hand


class _Dumper(yaml.SafeDumper):
    """dbt's YAML as people write it: sequences indented under their key, leaf collections in
    flow style, long text folded."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _represent_str(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    if len(text) > _FOLD_AT and "\n" not in text.rstrip("\n"):
        return dumper.represent_scalar("tag:yaml.org,2002:str", text.rstrip("\n") + "\n", ">")
    return dumper.represent_scalar("tag:yaml.org,2002:str", text)


def _scalar(value: Any) -> bool:
    return not isinstance(value, dict | list)


def _represent_dict(dumper: yaml.SafeDumper, data: dict) -> yaml.MappingNode:
    # small leaf mappings inline (`meta: {classification: internal}`), the rest as blocks
    flow = len(data) <= 2 and all(_scalar(v) for v in data.values())
    return dumper.represent_mapping("tag:yaml.org,2002:map", data.items(), flow_style=flow)


def _represent_list(dumper: yaml.SafeDumper, data: list) -> yaml.SequenceNode:
    flow = all(_scalar(v) for v in data)  # `data_tests: [not_null, unique]`
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


_Dumper.add_representer(str, _represent_str)
_Dumper.add_representer(dict, _represent_dict)
_Dumper.add_representer(list, _represent_list)


def dump_dbt_yaml(data: Mapping[str, Any], header: str = "") -> str:
    body = yaml.dump(
        dict(data),
        Dumper=_Dumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=88,  # with the indentation, lines stay within 100 characters
        indent=2,
    )
    return header + body


def _column_entry(column: Column, existing: Mapping[str, Any] | None) -> dict[str, Any]:
    existing = dict(existing or {})
    meta = {
        k: v
        for k, v in (existing.get("meta") or {}).items()
        if k not in ("classification", "privacy")
    }
    if column.classification is not None:
        meta["classification"] = column.classification.value
    if column.privacy is not None:
        meta["privacy"] = column.privacy.value
    entry: dict[str, Any] = {
        "name": column.name,
        "description": " ".join(column.description.split()),
        "data_type": column.physical_type,
    }
    if meta:
        entry["meta"] = meta
    entry.update({k: v for k, v in existing.items() if k not in _COLUMN_KEYS})
    return entry


def model_entry(d: ProductDescriptor, existing: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The dbt YAML entry of product `d`: the contract part from the descriptor, the rest (tests,
    constraints, other config) from `existing`."""
    existing = dict(existing or {})
    config = dict(existing.get("config") or {})
    config.update(access="public", group=d.domain)
    config["contract"] = {**(config.get("contract") or {}), "enforced": True}
    old_columns = {c.get("name"): c for c in existing.get("columns") or []}
    dropped = sorted(set(old_columns) - {c.name for c in d.columns})
    if dropped:
        log.warning("%s: columns %s are not in the descriptor: removed from dbt", d.id, dropped)
    entry: dict[str, Any] = {
        "name": d.name,
        "description": " ".join(d.table.description.split()),
        "config": {k: config[k] for k in ("access", "group", "contract")}
        | {k: v for k, v in config.items() if k not in ("access", "group", "contract")},
    }
    entry.update(
        {k: v for k, v in existing.items() if k not in ("name", "description", "config", "columns")}
    )
    entry["columns"] = [_column_entry(c, old_columns.get(c.name)) for c in d.columns]
    if entry.get("versions"):
        # dbt model versions, one per major: the descriptor is the latest, and the deprecation
        # date of the older major is its `until` (the older versions' columns are hand-written:
        # they are the last published contract of that major)
        entry["latest_version"] = d.major
        for version in entry["versions"]:
            if d.deprecation and str(version.get("v")) == str(d.deprecation.previous_major):
                version["deprecation_date"] = d.deprecation.until.isoformat()
    return entry


def _yaml_files(dbt_project_dir: Path, domain: str) -> list[Path]:
    return sorted((dbt_project_dir / "models" / domain).rglob("*.yml"))


def marts_yaml(dbt_project_dir: Path, domain: str) -> Path:
    """Where a new product's dbt YAML entry goes."""
    return dbt_project_dir / "models" / domain / "marts" / f"_{domain}__marts.yml"


def _find_entry(dbt_project_dir: Path, d: ProductDescriptor) -> Path:
    for path in _yaml_files(dbt_project_dir, d.domain):
        data = load_yaml(path.read_text()) or {}
        if any(m.get("name") == d.name for m in data.get("models") or []):
            return path
    return marts_yaml(dbt_project_dir, d.domain)


def sync_contracts(
    descriptors: Iterable[ProductDescriptor],
    dbt_project_dir: Path = DBT_PROJECT_DIR,
    write: bool = True,
) -> list[Path]:
    """Write the contract part of each product's dbt YAML; the files whose text changed (with
    `write=False`: the files that would change, nothing written)."""
    by_file: dict[Path, list[ProductDescriptor]] = {}
    for d in sorted(descriptors, key=lambda x: x.id):
        by_file.setdefault(_find_entry(dbt_project_dir, d), []).append(d)
    changed = []
    for path, products in sorted(by_file.items()):
        before = path.read_text() if path.exists() else ""
        old = (load_yaml(before) or {}) if before else {}
        models = list(old.get("models") or [])
        for d in products:
            index = next((i for i, m in enumerate(models) if m.get("name") == d.name), None)
            if index is None:
                models.append(model_entry(d))
            else:
                models[index] = model_entry(d, models[index])
        # the file's other keys (groups, sources...) stay where they were
        after = dump_dbt_yaml({**old, "models": models}, HEADER.format(domain=products[0].domain))
        if after != before:
            changed.append(path)
            if write:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(after)
                log.info("wrote the contract part of %s", path)
    return changed
