"""What a new domain may be called, and where a name is taken already.

A domain's name becomes a Python package (`domains.<name>`), a dbt folder, group and schema (and
`<name>__audit`), a dbt source (`<name>_raw`), model names (`stg_<name>__<entity>`), lake prefixes
and Dagster names (`<name>_daily`): it must be valid and free in every one of them."""

from __future__ import annotations

import keyword
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from wdc_orchestration.yamlio import load_yaml

# snake_case that is also a plain SQL identifier and a Python module name. No double underscore:
# it separates the parts of dbt names (`stg_<domain>__<entity>`, the audit schema `<d>__audit`).
NAME = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
# Long enough for any real domain; short enough that the generated code stays within the
# project's 100-character lines (ruff) with the name written twice on a line.
MAX_LENGTH = 30
AUDIT_SUFFIX = "__audit"  # dbt_project/macros/generate_schema_name.sql, wap.AUDIT_SUFFIX
RESERVED = {
    "_shared": "domains/_shared is the simulated company the source systems share",
    "mesh": "the whole mesh's job is mesh_daily, which <name>_daily would collide with",
    # DuckDB's own schemas; the dbt target schema (`main`) is found in profiles.yml too
    "main": "it is DuckDB's default schema and the dbt target schema",
    "information_schema": "it is a DuckDB system schema",
    "pg_catalog": "it is a DuckDB system schema",
    "temp": "it is DuckDB's temporary schema",
}
ENTITY = "events"  # the one raw entity the simulator stub lands
TEAM_MAX_LENGTH = 60
# An e-mail the generated Python and YAML can carry without quoting or escaping.
EMAIL = re.compile(r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$")


class NewDomainError(ValueError):
    """The domain cannot be scaffolded: the message says why, in one line."""


@dataclass(frozen=True)
class DomainNames:
    """The names of a scaffolded domain's parts."""

    domain: str

    @property
    def source(self) -> str:
        return f"{self.domain}_raw"

    @property
    def staging_model(self) -> str:
        return f"stg_{self.domain}__{ENTITY}"

    @property
    def product(self) -> str:
        # the domain in the name: dbt model names are global to the project
        return f"fct_{self.domain}_{ENTITY}"

    @property
    def models(self) -> tuple[str, str]:
        return (self.staging_model, self.product)


def check_name(name: str) -> DomainNames:
    """The domain's names, or NewDomainError saying why `name` cannot be a domain."""
    if name in RESERVED:
        raise NewDomainError(f"{name!r} is reserved: {RESERVED[name]}")
    if AUDIT_SUFFIX in name:
        raise NewDomainError(
            f"{name!r} clashes with the audit schemas (<domain>{AUDIT_SUFFIX}, where dbt builds "
            "a domain before it is published): choose a name without it"
        )
    if keyword.iskeyword(name):
        raise NewDomainError(f"{name!r} is a Python keyword: `import domains.{name}` would fail")
    if not NAME.match(name):
        raise NewDomainError(
            f"{name!r} is not a valid domain name: lowercase snake_case starting with a letter, "
            "no double underscore (e.g. marketing or customer_support)"
        )
    if len(name) > MAX_LENGTH:
        raise NewDomainError(f"{name!r} is {len(name)} characters long: at most {MAX_LENGTH}")
    return DomainNames(name)


def check_team(team: str) -> str:
    team = team.strip()
    if not team or len(team) > TEAM_MAX_LENGTH or not team.isprintable() or set(team) & {'"', "\\"}:
        raise NewDomainError(
            f"team {team!r} is not a team name: 1 to {TEAM_MAX_LENGTH} printable characters, "
            'no " or \\ (e.g. "Time de Marketing")'
        )
    return team


def check_owner(owner: str) -> str:
    if not EMAIL.match(owner):
        raise NewDomainError(f"owner {owner!r} is not an e-mail address (e.g. time@wdc.example)")
    return owner


def _yaml_files(root: Path) -> Iterator[tuple[Path, Any]]:
    for path in sorted((root / "dbt_project" / "models").rglob("*.yml")):
        try:
            yield path, load_yaml(path.read_text()) or {}
        except yaml.YAMLError as error:
            raise NewDomainError(f"cannot read {path}: {str(error).splitlines()[0]}") from error


def _schemas(config: Any) -> Iterator[str]:
    """Every `+schema` / `schema` value in a dbt config tree."""
    if isinstance(config, Mapping):
        for key, value in config.items():
            if key in ("+schema", "schema") and isinstance(value, str):
                yield value.strip()
            else:
                yield from _schemas(value)
    elif isinstance(config, list):
        for item in config:
            yield from _schemas(item)


def where_taken(names: DomainNames, root: Path) -> list[str]:
    """Where the domain's name, or a name its parts would get, exists already in the project at
    `root` (empty: free)."""
    name = names.domain
    found = []
    for folder in (root / "domains" / name, root / "dbt_project" / "models" / name):
        if folder.exists():
            found.append(f"{folder.relative_to(root)}/ exists")
    workspace = load_yaml((root / "workspace.yaml").read_text()) or {}
    for entry in workspace.get("load_from") or []:
        module = (entry.get("python_module") or {}) if isinstance(entry, Mapping) else {}
        if module.get("location_name") == name or str(module.get("module_name", "")).startswith(
            f"domains.{name}."
        ):
            found.append(f"workspace.yaml has the location {module.get('location_name')}")
    project = load_yaml((root / "dbt_project" / "dbt_project.yml").read_text()) or {}
    models_config = project.get("models") or {}
    project_models = models_config.get(project.get("name", "wdc")) or {}
    if name in project_models:
        found.append(f"dbt_project.yml configures the model folder {name}")
    profiles = load_yaml((root / "dbt_project" / "profiles.yml").read_text()) or {}
    schemas = set(_schemas(models_config)) | set(_schemas(profiles))
    groups, sources, yaml_models = set(), set(), set()
    for _, data in _yaml_files(root):
        groups |= {g.get("name") for g in data.get("groups") or []}
        sources |= {s.get("name") for s in data.get("sources") or []}
        yaml_models |= {m.get("name") for m in data.get("models") or []}
        schemas |= set(_schemas(data.get("models") or []))
    if name in groups:
        found.append(f"a dbt group {name} exists")
    if name in schemas or f"{name}{AUDIT_SUFFIX}" in schemas:
        found.append(f"a dbt schema {name} exists")
    if names.source in sources:
        found.append(f"a dbt source {names.source} exists")
    sql_models = {p.stem for p in (root / "dbt_project" / "models").rglob("*.sql")}
    for model in names.models:
        if model in sql_models | yaml_models:
            found.append(f"a dbt model {model} exists")
    return found
