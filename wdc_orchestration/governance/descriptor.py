"""Data product descriptors: one YAML file per product under `domains/<domain>/products/`,
modelled on the Open Data Contract Standard (ODCS v3). The descriptor is the product's single
source of truth; the dbt YAML must agree with it (policies/contract.py checks that it does).

Loading validates the shape (pydantic, unknown keys refused) and the invariants a reader relies
on: the id is `<domain>.<name>`, the version is semantic, the file port lives under
`products/<domain>/<name>/v<major>/`. A bad file raises DescriptorError naming the file and
the field."""

from __future__ import annotations

import datetime as dt
import re
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from wdc_orchestration.settings import PROJECT_ROOT
from wdc_orchestration.yamlio import load_yaml

DOMAINS_DIR = PROJECT_ROOT / "domains"
SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")
# ISO 8601 durations with date parts (P5Y, P18M, P90D) or hours (PT26H), as retention/freshness.
ISO_DURATION = re.compile(r"^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)D)?(?:T(\d+)H)?$")


class DescriptorError(ValueError):
    """A descriptor file that cannot be used, with the file and the reason."""


class Classification(StrEnum):
    """How sensitive a column is (the mesh's five levels, from the compliance policy)."""

    PUBLIC = "public"
    INTERNAL = "internal"
    CONFIDENTIAL = "confidential"
    PERSONAL = "personal"
    SENSITIVE = "sensitive"


class Privacy(StrEnum):
    """How a personal column was made safe to leave its domain."""

    PSEUDONYMISED = "pseudonymised"  # HMAC-SHA256 with the platform key (dbt macro pseudonymise)
    GENERALISED = "generalised"  # a coarser value: age band instead of birth date, UF not address


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class Column(_Strict):
    name: str
    logical_type: Literal["string", "integer", "number", "boolean", "date", "timestamp"] = Field(
        alias="logicalType"
    )
    physical_type: str = Field(alias="physicalType")
    description: str = ""
    classification: Classification | None = None
    required: bool = False
    unique: bool = False
    primary_key: bool = Field(default=False, alias="primaryKey")
    unit: str | None = None  # BRL for money
    privacy: Privacy | None = None


class SchemaObject(_Strict):
    name: str
    physical_type: Literal["table"] = Field(default="table", alias="physicalType")
    description: str = ""
    properties: list[Column]


class Team(_Strict):
    name: str
    owner: str = ""  # e-mail of the accountable team


class Description(_Strict):
    purpose: str = ""
    usage: str = ""
    limitations: str = ""


class QualityRule(_Strict):
    """A dbt test the product promises (the same test must exist in the dbt project)."""

    rule: str  # not_null, unique, accepted_values, relationships, unique_combination, ...
    column: str | None = None  # None: a model-level rule
    description: str = ""


class Sla(_Strict):
    freshness: str  # ISO 8601 duration: how old the latest data may get
    update_schedule: str = Field(alias="updateSchedule")  # cron, America/Sao_Paulo
    retention: str = ""  # ISO 8601 duration; required by the compliance policy

    @field_validator("freshness", "retention")
    @classmethod
    def _duration(cls, value: str) -> str:
        if value and not ISO_DURATION.match(value):
            raise ValueError(f"{value!r} is not an ISO 8601 duration such as P5Y or PT26H")
        return value


class OutputPort(_Strict):
    name: str
    type: Literal["ducklake", "parquet"]
    location: str


class Deprecation(_Strict):
    """The previous major stays published until `until`, then may be retired."""

    previous_major: int = Field(alias="previousMajor")
    until: dt.date


class ProductDescriptor(_Strict):
    api_version: str = Field(alias="apiVersion")
    kind: Literal["DataContract"]
    id: str
    name: str
    domain: str
    version: str
    status: Literal["draft", "active", "deprecated", "retired"]
    team: Team
    description: Description
    schema_: list[SchemaObject] = Field(alias="schema", min_length=1, max_length=1)
    quality: list[QualityRule] = []
    sla: Sla
    consumers: list[str] = []  # domains allowed to read the product
    output_ports: list[OutputPort] = Field(alias="outputPorts")
    deprecation: Deprecation | None = None

    @field_validator("version")
    @classmethod
    def _semver(cls, value: str) -> str:
        if not SEMVER.match(value):
            raise ValueError(f"version {value!r} is not semantic (MAJOR.MINOR.PATCH)")
        return value

    @cached_property
    def major(self) -> int:
        return int(self.version.split(".")[0])

    @property
    def table(self) -> SchemaObject:
        return self.schema_[0]

    @property
    def columns(self) -> list[Column]:
        return self.table.properties

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)

    @property
    def file_port_prefix(self) -> str:
        """The Parquet port of this major on the lake: products/<domain>/<name>/v<major>/."""
        return product_prefix(self.domain, self.name, self.major)

    @property
    def sql_port(self) -> str:
        return f"lakehouse.{self.domain}.{self.name}"

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.as_dict(), sort_keys=False, allow_unicode=True)

    def as_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


def product_prefix(domain: str, name: str, major: int) -> str:
    return f"products/{domain}/{name}/v{major}/"


def _check_invariants(descriptor: ProductDescriptor, domain_folder: str | None) -> list[str]:
    problems = []
    if descriptor.id != f"{descriptor.domain}.{descriptor.name}":
        problems.append(f"id {descriptor.id!r} must be '<domain>.<name>'")
    if domain_folder is not None and descriptor.domain != domain_folder:
        problems.append(f"domain {descriptor.domain!r} but the file is in domains/{domain_folder}")
    if descriptor.table.name != descriptor.name:
        problems.append(f"schema[0].name {descriptor.table.name!r} must be {descriptor.name!r}")
    names = [c.name for c in descriptor.columns]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        problems.append(f"duplicate columns {duplicates}")
    ports = {p.type: p.location for p in descriptor.output_ports}
    if ports.get("ducklake") != descriptor.sql_port:
        problems.append(f"the ducklake output port must be {descriptor.sql_port!r}")
    if ports.get("parquet") != descriptor.file_port_prefix:
        problems.append(
            f"the parquet output port must be {descriptor.file_port_prefix!r} "
            f"(major {descriptor.major} of version {descriptor.version})"
        )
    if descriptor.deprecation and descriptor.deprecation.previous_major >= descriptor.major:
        problems.append("deprecation.previousMajor must be below the current major")
    return problems


def parse_descriptor(
    data: Any, source: str = "<descriptor>", domain_folder: str | None = None
) -> ProductDescriptor:
    """Validate a descriptor's content; DescriptorError names the source and every problem."""
    try:
        descriptor = ProductDescriptor.model_validate(data)
    except ValidationError as error:
        details = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors()
        )
        raise DescriptorError(f"{source}: {details}") from error
    problems = _check_invariants(descriptor, domain_folder)
    if problems:
        raise DescriptorError(f"{source}: {'; '.join(problems)}")
    return descriptor


def load_descriptor(path: Path) -> ProductDescriptor:
    try:
        data = load_yaml(path.read_text())
    except yaml.YAMLError as error:
        raise DescriptorError(f"{path}: not valid YAML: {error}") from error
    return parse_descriptor(data, str(path), domain_folder=path.parent.parent.name)


def descriptor_paths(domains_dir: Path = DOMAINS_DIR, domain: str | None = None) -> list[Path]:
    """Every product descriptor; files starting with `_` are other governance files."""
    pattern = f"{domain or '*'}/products/*.yaml"
    return sorted(p for p in domains_dir.glob(pattern) if not p.name.startswith("_"))


def load_descriptors(
    domains_dir: Path = DOMAINS_DIR, domain: str | None = None
) -> dict[str, ProductDescriptor]:
    """Product id -> descriptor, for every domain (or one)."""
    descriptors: dict[str, ProductDescriptor] = {}
    for path in descriptor_paths(domains_dir, domain):
        descriptor = load_descriptor(path)
        if descriptor.id in descriptors:
            raise DescriptorError(f"{path}: product {descriptor.id} is described twice")
        descriptors[descriptor.id] = descriptor
    return descriptors
