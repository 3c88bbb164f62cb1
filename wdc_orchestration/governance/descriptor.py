"""Data product descriptors: one YAML file per product under `domains/<domain>/products/`, a data
contract in the Open Data Contract Standard v3.0.2 (`datacontract lint` passes on every one). The
descriptor is the product's single source of truth: `wdc contracts sync` writes the contract part
of the dbt YAML from it, and policies/contract.py checks that the two still agree.

What ODCS has a field for lives in that field: columns under `schema[0].properties`, the owning
team under `team`, freshness/schedule/retention under `slaProperties`, the SQL and file ports
under `servers`, the promised dbt tests as `quality` of the column (or of the schema, for a
model-level test). What is the mesh's own lives in `customProperties`: the allowed consumers and
the deprecation of the previous major and the time model (top level), the unit and the privacy
treatment (column).

Loading validates the shape (pydantic, unknown keys and unknown custom properties refused) and the
invariants a reader relies on: the id is `<domain>.<name>`, the version is semantic, the file
port lives under `products/<domain>/<name>/v<major>/`. A bad file raises DescriptorError naming
the file and the field. The attributes other code reads (`.team.owner`, `.sla.freshness`,
`.consumers`, `.output_ports`, `.deprecation`, `.quality`, `Column.unit/.privacy/.logical_type`)
are properties over the ODCS fields."""

from __future__ import annotations

import datetime as dt
import logging
import re
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from wdc_orchestration.governance.descriptor_legacy import legacy_to_odcs
from wdc_orchestration.governance.odcs import (
    API_VERSION as API_VERSION,
)
from wdc_orchestration.governance.odcs import (
    EMBEDDED_CATALOG as EMBEDDED_CATALOG,
)
from wdc_orchestration.governance.odcs import (
    EMBEDDED_LAKE as EMBEDDED_LAKE,
)
from wdc_orchestration.governance.odcs import (
    FILE_SERVER as FILE_SERVER,
)
from wdc_orchestration.governance.odcs import (
    LAKEHOUSE as LAKEHOUSE,
)
from wdc_orchestration.governance.odcs import (
    SQL_SERVER as SQL_SERVER,
)
from wdc_orchestration.governance.odcs import (
    TEST_DIMENSIONS as TEST_DIMENSIONS,
)
from wdc_orchestration.governance.odcs import (
    product_prefix as product_prefix,
)
from wdc_orchestration.governance.odcs import (
    servers_for as servers_for,
)
from wdc_orchestration.lakehouse.history import IS_CURRENT as IS_CURRENT
from wdc_orchestration.lakehouse.history import VALID_FROM as VALID_FROM
from wdc_orchestration.lakehouse.history import VALID_TO as VALID_TO
from wdc_orchestration.settings import PROJECT_ROOT
from wdc_orchestration.yamlio import YamlFileError, read_yaml_file

log = logging.getLogger(__name__)

DOMAINS_DIR = PROJECT_ROOT / "domains"
SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")
# ISO 8601 durations with date parts (P5Y, P18M, P90D) or hours (PT26H), as retention/freshness.
ISO_DURATION = re.compile(r"^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)D)?(?:T(\d+)H)?$")
CRON = re.compile(r"^\S+( \S+){4}$")
# What `wdc new-product` writes where the owner still has to decide (a string, so the file is
# still valid ODCS); read as "not set", and the policies name each one.
TODO = "TODO"


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


def _unset_todo(cls: type, value: Any) -> Any:
    """A TODO marker reads as "not set"."""
    return None if value == TODO else value


class CustomProperty(_Strict):
    """ODCS `customProperties` item: what the mesh says that ODCS has no field for."""

    property: str
    value: Any = None


def _custom(properties: list[CustomProperty], name: str) -> Any:
    return next((p.value for p in properties if p.property == name), None)


def _check_custom(properties: list[CustomProperty], allowed: set[str]) -> list[CustomProperty]:
    names = [p.property for p in properties]
    unknown = sorted(set(names) - allowed)
    if unknown:
        raise ValueError(f"unknown custom properties {unknown} (known: {sorted(allowed)})")
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"custom properties {duplicates} given twice")
    return properties


class QualityCheck(_Strict):
    """ODCS `quality` item: a dbt test the product promises. The test itself, with its arguments
    (accepted values, the referenced product, a severity), is in the dbt YAML; the contract policy
    checks that every promise has its test and every test is promised."""

    # no defaults: an ODCS reader needs them written (a quality item is `library` by default)
    type: Literal["custom"]
    engine: Literal["dbt"]
    implementation: str  # the dbt generic test: not_null, unique, accepted_values, relationships...
    dimension: (
        Literal[
            "accuracy",
            "completeness",
            "conformity",
            "consistency",
            "coverage",
            "timeliness",
            "uniqueness",
        ]
        | None
    ) = None
    description: str | None = None


class QualityRule(BaseModel):
    """A promised dbt test, flattened: `column` None for a model-level test (`d.quality`)."""

    model_config = ConfigDict(frozen=True)

    rule: str
    column: str | None = None
    description: str = ""


class Column(_Strict):
    """ODCS schema property. `logicalType` is ODCS's (a timestamp is `date` with a timestamp
    physical type); `logical_type` gives the mesh's finer word (`timestamp`)."""

    name: str
    logical_type_odcs: Literal["string", "integer", "number", "boolean", "date"] = Field(
        alias="logicalType"
    )
    physical_type: str = Field(alias="physicalType")
    description: str = ""
    classification: Classification | None = None  # None: not decided yet (TODO in the file)
    required: bool = False
    unique: bool = False
    primary_key: bool = Field(default=False, alias="primaryKey")
    primary_key_position: int | None = Field(default=None, alias="primaryKeyPosition")
    quality: list[QualityCheck] = []
    custom_properties: list[CustomProperty] = Field(default=[], alias="customProperties")

    _unset = field_validator("classification", mode="before")(classmethod(_unset_todo))

    @field_validator("custom_properties")
    @classmethod
    def _known(cls, value: list[CustomProperty]) -> list[CustomProperty]:
        _check_custom(value, {"unit", "privacy"})
        privacy = _custom(value, "privacy")
        if privacy is not None and privacy not in {p.value for p in Privacy}:
            raise ValueError(f"privacy {privacy!r} is not one of {[p.value for p in Privacy]}")
        return value

    @property
    def logical_type(self) -> str:
        """string, integer, number, boolean, date or timestamp (the pre-ODCS vocabulary)."""
        if self.logical_type_odcs == "date" and self.physical_type.lower().startswith("timestamp"):
            return "timestamp"
        return self.logical_type_odcs

    @property
    def unit(self) -> str | None:
        """BRL for money (custom property `unit`)."""
        return _custom(self.custom_properties, "unit")

    @property
    def privacy(self) -> Privacy | None:
        """How a personal column was made safe (custom property `privacy`)."""
        value = _custom(self.custom_properties, "privacy")
        return Privacy(value) if value else None

    def schema_signature(self) -> dict[str, Any]:
        """What a consumer of the column relies on (versioning compares this, not the tests)."""
        return self.model_dump(exclude={"quality"})


class SchemaObject(_Strict):
    name: str
    physical_type: Literal["table"] = Field(alias="physicalType")
    description: str = ""
    quality: list[QualityCheck] = []  # model-level tests (unique_combination, ...)
    properties: list[Column]


class TeamMember(_Strict):
    """ODCS `team` item. The mesh lists the owning team's mailbox with role `owner`."""

    username: str  # the team's e-mail
    name: str = ""
    role: str = ""


class Team(BaseModel):
    """The owning team (`d.team`), from the `team` member with role owner."""

    model_config = ConfigDict(frozen=True)

    name: str
    owner: str = ""  # e-mail of the accountable team


class Description(_Strict):
    purpose: str = ""
    usage: str = ""
    limitations: str = ""


SLA_PROPERTIES = {
    "latency": "freshness",  # ODCS's name for freshness: how old the latest data may get
    "frequency": "updateSchedule",  # cron, America/Sao_Paulo
    "retention": "retention",
}


class SlaProperty(_Strict):
    """ODCS `slaProperties` item. The mesh writes `latency` and `retention` as ISO 8601 durations
    and `frequency` as a cron expression (America/Sao_Paulo), with no `element`: they are about
    the product's updates, not about a column's values."""

    property: str
    value: str | int | float | bool | None
    unit: str | None = None
    element: str | None = None
    driver: str | None = None

    _unset = field_validator("value", mode="before")(classmethod(_unset_todo))

    @model_validator(mode="after")
    def _value(self) -> SlaProperty:
        value = self.value
        if value is None or self.property not in SLA_PROPERTIES:
            return self
        if self.property == "frequency":
            if not isinstance(value, str) or not CRON.match(value):
                raise ValueError(f"frequency {value!r} is not a cron expression such as 0 2 * * *")
        elif not isinstance(value, str) or not ISO_DURATION.match(value) or value == "P":
            raise ValueError(
                f"{self.property} {value!r} is not an ISO 8601 duration such as P5Y or PT26H"
            )
        return self


class Sla(BaseModel):
    """The SLA as the rest of the platform reads it (`d.sla`); "" where not set."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    freshness: str = ""  # ISO 8601 duration: how old the latest data may get
    update_schedule: str = Field(default="", alias="updateSchedule")  # cron, America/Sao_Paulo
    retention: str = ""  # ISO 8601 duration; required by the compliance policy


class Server(_Strict):
    """ODCS `servers` item: one of the product's two ports, as it is on the embedded default
    (`.lake/` beside the project). `sql`: the DuckLake table (type custom, format ducklake);
    `files`: the Parquet file port (type local, format parquet)."""

    server: str
    type: Literal["local", "custom"]
    format: str
    path: str | None = None
    database: str | None = None
    catalog: str | None = None
    schema_: str | None = Field(default=None, alias="schema")
    description: str = ""


class OutputPort(BaseModel):
    """A port as the rest of the platform reads it (`d.output_ports`)."""

    model_config = ConfigDict(frozen=True)

    name: str
    type: Literal["ducklake", "parquet"]
    location: str  # lakehouse.<domain>.<name>, or products/<domain>/<name>/v<major>/ on the lake


class Deprecation(_Strict):
    """The previous major stays published until `until`, then may be retired."""

    previous_major: int = Field(alias="previousMajor")
    until: dt.date


class Dependency(_Strict):
    """A product of another domain this one reads, at the major it reads (custom property
    `dependencies`: `[{product: sales.fct_orders, major: 1}]`; its dbt models say the same with
    `ref('fct_orders', v=1)`, or a plain ref for the latest major)."""

    product: str
    major: int


class TimeModel(_Strict):
    """How a product moves in time, custom property `timeModel` (docs/time_model.md):

    - `events`: every row belongs to one day, its `partitionColumn`; a run replaces the rows of
      its days and no other (facts: orders, payments, shipments);
    - `state`: the history of the state of each `key` as type-2 versions, `valid_from` (first
      day), `valid_to` (first day it no longer held, exclusive; null while it holds) and
      `is_current`: the state on day D is the row with valid_from <= D < valid_to. Computed from
      every daily snapshot built, so a rerun, a late day or another order changes nothing else
      (dimensions: customers, products)."""

    kind: Literal["events", "state"]
    partition_column: str | None = Field(default=None, alias="partitionColumn")
    key: list[str] | None = None

    @model_validator(mode="after")
    def _fields_of_kind(self) -> TimeModel:
        if self.kind == "events" and (not self.partition_column or self.key):
            raise ValueError("an events time model names its partitionColumn (and no key)")
        if self.kind == "state" and (not self.key or self.partition_column):
            raise ValueError("a state time model names its key columns (and no partitionColumn)")
        return self

    @property
    def required_columns(self) -> list[str]:
        if self.kind == "events":
            return [str(self.partition_column)]
        return [*(self.key or []), VALID_FROM, VALID_TO, IS_CURRENT]


class ProductDescriptor(_Strict):
    api_version: Literal["v3.0.2"] = Field(alias="apiVersion")
    kind: Literal["DataContract"]
    id: str
    name: str
    version: str
    status: Literal["draft", "active", "deprecated", "retired"]
    domain: str
    description: Description
    team_members: list[TeamMember] = Field(alias="team", min_length=1)
    schema_: list[SchemaObject] = Field(alias="schema", min_length=1, max_length=1)
    sla_properties: list[SlaProperty] = Field(default=[], alias="slaProperties")
    servers: list[Server]
    custom_properties: list[CustomProperty] = Field(default=[], alias="customProperties")

    @field_validator("version")
    @classmethod
    def _semver(cls, value: str) -> str:
        if not SEMVER.match(value):
            raise ValueError(f"version {value!r} is not semantic (MAJOR.MINOR.PATCH)")
        return value

    @field_validator("custom_properties")
    @classmethod
    def _known(cls, value: list[CustomProperty]) -> list[CustomProperty]:
        _check_custom(value, {"allowedConsumers", "dependencies", "deprecation", "timeModel"})
        consumers = _custom(value, "allowedConsumers")
        if consumers not in (None, TODO) and not (
            isinstance(consumers, list) and all(isinstance(c, str) for c in consumers)
        ):
            raise ValueError("allowedConsumers must be a list of domains ([] for none)")
        deprecation = _custom(value, "deprecation")
        if deprecation is not None:
            Deprecation.model_validate(deprecation)
        dependencies = _custom(value, "dependencies")
        if dependencies is not None:
            if not isinstance(dependencies, list):
                raise ValueError("dependencies must be a list of {product, major}")
            for dependency in dependencies:
                Dependency.model_validate(dependency)
        time_model = _custom(value, "timeModel")
        if time_model not in (None, TODO):
            TimeModel.model_validate(time_model)
        return value

    @field_validator("sla_properties")
    @classmethod
    def _one_each(cls, value: list[SlaProperty]) -> list[SlaProperty]:
        names = [p.property for p in value]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"SLA properties {duplicates} given twice")
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
    def team(self) -> Team:
        """The owning team: the member with role owner (else the first)."""
        owner = next((m for m in self.team_members if m.role == "owner"), self.team_members[0])
        return Team(name=owner.name, owner=owner.username)

    @property
    def sla(self) -> Sla:
        values = {p.property: p.value for p in self.sla_properties}
        return Sla(
            freshness=str(values.get("latency") or ""),
            update_schedule=str(values.get("frequency") or ""),
            retention=str(values.get("retention") or ""),
        )

    @property
    def consumers_decided(self) -> bool:
        """False while allowedConsumers is missing or TODO (the owner has not said who reads)."""
        return _custom(self.custom_properties, "allowedConsumers") not in (None, TODO)

    @property
    def consumers(self) -> list[str]:
        """Domains allowed to read the product ([] while undecided)."""
        value = _custom(self.custom_properties, "allowedConsumers")
        return list(value) if isinstance(value, list) else []

    @property
    def deprecation(self) -> Deprecation | None:
        value = _custom(self.custom_properties, "deprecation")
        return Deprecation.model_validate(value) if value is not None else None

    @property
    def dependencies(self) -> list[Dependency] | None:
        """The products of other domains it declares it reads (None: not declared)."""
        value = _custom(self.custom_properties, "dependencies")
        return [Dependency.model_validate(v) for v in value] if value is not None else None

    @property
    def time_model(self) -> TimeModel | None:
        """How the product moves in time (None while missing or TODO)."""
        value = _custom(self.custom_properties, "timeModel")
        return TimeModel.model_validate(value) if value not in (None, TODO) else None

    @property
    def quality(self) -> list[QualityRule]:
        """Every promised dbt test: the schema's (column None), then each column's."""
        rules = [
            QualityRule(rule=q.implementation, description=q.description or "")
            for q in self.table.quality
        ]
        rules += [
            QualityRule(rule=q.implementation, column=c.name, description=q.description or "")
            for c in self.columns
            for q in c.quality
        ]
        return rules

    def server(self, name: str) -> Server | None:
        return next((s for s in self.servers if s.server == name), None)

    @property
    def output_ports(self) -> list[OutputPort]:
        """The ports as locations: the SQL table and the file port's prefix on the lake."""
        ports = []
        for s in self.servers:
            if s.server == SQL_SERVER:
                location = f"{s.catalog}.{s.schema_}.{self.name}"
                ports.append(OutputPort(name=s.server, type="ducklake", location=location))
            elif s.server == FILE_SERVER:
                location = (s.path or "").removeprefix(f"{EMBEDDED_LAKE}/")
                ports.append(OutputPort(name=s.server, type="parquet", location=location))
        return ports

    @property
    def file_port_prefix(self) -> str:
        """The Parquet port of this major on the lake: products/<domain>/<name>/v<major>/."""
        return product_prefix(self.domain, self.name, self.major)

    @property
    def sql_port(self) -> str:
        return f"{LAKEHOUSE}.{self.domain}.{self.name}"

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.as_dict(), sort_keys=False, allow_unicode=True, width=100)

    def as_dict(self) -> dict[str, Any]:
        """The ODCS document (what the file says, without the defaults it left out)."""
        data = self.model_dump(mode="json", by_alias=True, exclude_defaults=True)
        # always written, even where equal to a default: an ODCS reader needs them
        data["apiVersion"], data["kind"] = self.api_version, self.kind
        return data


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
    sql, files = descriptor.server(SQL_SERVER), descriptor.server(FILE_SERVER)
    if (
        sql is None
        or (sql.type, sql.format) != ("custom", "ducklake")
        or (sql.catalog, sql.schema_) != (LAKEHOUSE, descriptor.domain)
    ):
        problems.append(
            f"servers must have a {SQL_SERVER!r} server (type custom, format ducklake, catalog "
            f"{LAKEHOUSE}, schema {descriptor.domain}) for {descriptor.sql_port}"
        )
    expected_path = f"{EMBEDDED_LAKE}/{descriptor.file_port_prefix}"
    files_port = (files.type, files.format, files.path) if files else None
    if files_port != ("local", "parquet", expected_path):
        problems.append(
            f"the parquet output port must be {descriptor.file_port_prefix!r}: a {FILE_SERVER!r} "
            f"server (type local, format parquet) with path {expected_path!r} "
            f"(major {descriptor.major} of version {descriptor.version})"
        )
    if descriptor.deprecation and descriptor.deprecation.previous_major >= descriptor.major:
        problems.append("deprecation.previousMajor must be below the current major")
    time_model = descriptor.time_model
    if time_model is not None:
        absent = [c for c in time_model.required_columns if c not in names]
        if absent:
            problems.append(f"the {time_model.kind} time model needs the column(s) {absent}")
    return problems


def _is_pre_odcs(data: Any) -> bool:
    """A contract in the shape before ODCS conformance (`sla`, `outputPorts`, a `team` object),
    as contracts published on a lake before it may still be."""
    return isinstance(data, dict) and ("outputPorts" in data or isinstance(data.get("team"), dict))


def parse_descriptor(
    data: Any, source: str = "<descriptor>", domain_folder: str | None = None
) -> ProductDescriptor:
    """Validate a descriptor's content; DescriptorError names the source and every problem.
    A contract of the pre-ODCS shape (published on a lake before the change) is converted."""
    if _is_pre_odcs(data):
        log.info("%s: a contract of the pre-ODCS shape, read through its conversion", source)
        data = legacy_to_odcs(data)
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
        data = read_yaml_file(path)
    except YamlFileError as error:
        raise DescriptorError(str(error)) from error
    if _is_pre_odcs(data):
        # the files in the repository are ODCS; only published history is converted
        raise DescriptorError(
            f"{path}: not an ODCS v3.0.2 contract (sla/outputPorts/consumers/quality at the top "
            "level): see docs/governance.md for the fields"
        )
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
