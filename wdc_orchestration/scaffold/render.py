"""Every new file of a scaffolded domain, rendered in memory from the shapes in templates/.

The product's descriptor is the one contract: its dbt YAML entry (description, access, contract,
group, columns) is made from it by the same code as `wdc contracts sync`, around the tests the
template declares. Values that reach Python or YAML are checked by names.py (no quotes or
escapes to worry about) and quoted as JSON strings, which both languages read."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Any

import yaml

from wdc_orchestration.governance.contract_sync import HEADER, dump_dbt_yaml, model_entry
from wdc_orchestration.governance.descriptor import (
    ProductDescriptor,
    parse_descriptor,
    servers_for,
)
from wdc_orchestration.scaffold.names import DomainNames
from wdc_orchestration.yamlio import load_yaml

TEMPLATES = Path(__file__).parent / "templates"
# template -> where it goes, relative to the project root
FILES = {
    "domain/__init__.py.tmpl": "domains/{domain}/__init__.py",
    "domain/definitions.py.tmpl": "domains/{domain}/definitions.py",
    "domain/simulator.py.tmpl": "domains/{domain}/simulator.py",
    "domain/products/_raw_retention.yaml.tmpl": "domains/{domain}/products/_raw_retention.yaml",
    "domain/kpis.yaml.tmpl": "domains/{domain}/kpis.yaml",
    # the domain as a dg project, like the others (docs/architecture.md, "dg")
    "domain/dg.toml.tmpl": "domains/{domain}/dg.toml",
    "domain/env.tmpl": "domains/{domain}/.env",
    "dbt/_groups.yml.tmpl": "dbt_project/models/{domain}/_{domain}__groups.yml",
    "dbt/staging/_sources.yml.tmpl": "dbt_project/models/{domain}/staging/_{domain}__sources.yml",
    "dbt/staging/_staging.yml.tmpl": "dbt_project/models/{domain}/staging/_{domain}__staging.yml",
    "dbt/staging/stg.sql.tmpl": "dbt_project/models/{domain}/staging/{staging_model}.sql",
    "dbt/marts/product.sql.tmpl": "dbt_project/models/{domain}/marts/{product}.sql",
}
DESCRIPTOR = "domain/products/product.yaml.tmpl"
DESCRIPTOR_PATH = "domains/{domain}/products/{product}.yaml"
MARTS_TESTS = "dbt/marts/_marts_tests.yml.tmpl"
MARTS_PATH = "dbt_project/models/{domain}/marts/_{domain}__marts.yml"
FIRST_MAJOR = 0  # the descriptor's version is 0.1.0: a draft, file port v0/


@dataclass(frozen=True)
class Owner:
    team: str
    email: str


def _quoted(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def render(template: str, names: DomainNames, owner: Owner | None = None) -> str:
    """A template with the domain's values in it (a missing value raises: no `$x` left behind)."""
    values = {"domain": names.domain, "product": names.product}
    if owner is not None:
        values |= {
            "owner": owner.email,
            "team_literal": _quoted(owner.team),
            "team_yaml": _quoted(owner.team),
            "group_description_yaml": _quoted(
                f"The {names.domain} domain of {owner.team}, scaffolded by `wdc new-domain`."
            ),
        }
    return Template((TEMPLATES / template).read_text()).substitute(values)


def _relative(pattern: str, names: DomainNames) -> Path:
    return Path(
        pattern.format(
            domain=names.domain, product=names.product, staging_model=names.staging_model
        )
    )


def descriptor_text(names: DomainNames, owner: Owner) -> tuple[str, ProductDescriptor]:
    """The product's ODCS descriptor (its header comment kept) and the parsed descriptor. The
    servers come from the platform's `servers_for`, as for every product."""
    text = render(DESCRIPTOR, names, owner)
    header = "".join(line for line in text.splitlines(keepends=True) if line.startswith("#"))
    document: dict[str, Any] = {}
    for key, value in load_yaml(text).items():
        if key == "customProperties":  # the ports go before the custom properties, as elsewhere
            document["servers"] = servers_for(names.domain, names.product, FIRST_MAJOR)
        document[key] = value
    descriptor = parse_descriptor(
        document, f"{names.domain}.{names.product}", domain_folder=names.domain
    )
    body = yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)
    return header + body, descriptor


def marts_yaml_text(names: DomainNames, descriptor: ProductDescriptor) -> str:
    """The marts YAML as `wdc contracts sync` writes it: the contract part from the descriptor,
    the tests and constraints from the template."""
    tests = load_yaml(render(MARTS_TESTS, names))["models"]
    entries = [model_entry(descriptor, existing) for existing in tests]
    return dump_dbt_yaml({"models": entries}, HEADER.format(domain=names.domain))


def new_files(names: DomainNames, owner: Owner) -> dict[Path, str]:
    """Every file the scaffold creates (relative path -> text)."""
    files = {_relative(target, names): render(src, names, owner) for src, target in FILES.items()}
    descriptor, parsed = descriptor_text(names, owner)
    files[_relative(DESCRIPTOR_PATH, names)] = descriptor
    files[_relative(MARTS_PATH, names)] = marts_yaml_text(names, parsed)
    return files
