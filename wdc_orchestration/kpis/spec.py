"""KPI specs: a domain declares its KPIs as data in `domains/<domain>/kpis.yaml` — a query over
data products and how to chart it — and the platform builds the rest (a Dagster asset with the
chart as a PNG, the portal's interactive chart). The platform knows no KPI, as it knows no
domain; adding a KPI is adding an entry.

A KPI reads products only: every relation its SQL names must be a product's SQL port listed in
`reads`, and it runs on the products-only reader (governance/product_reader.py)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from wdc_orchestration.governance.descriptor import DOMAINS_DIR, ProductDescriptor
from wdc_orchestration.governance.product_reader import ProductAccessError, check_product_query
from wdc_orchestration.yamlio import load_yaml

KPI_FILE = "kpis.yaml"
_SNAKE = re.compile(r"^[a-z][a-z0-9_]*$")


class KpiError(ValueError):
    """A KPI file that cannot be used, with the file and the reason."""


class Chart(BaseModel):
    """How the result is drawn: columns of the query mapped to a Plotly Express chart."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["bar", "line", "heatmap"]
    x: str
    y: str  # bar/line: the measure; heatmap: the rows
    color: str | None = None  # bar/line: one trace per value
    facet: str | None = None  # one panel per value
    value: str | None = None  # heatmap: the measure in each cell
    x_title: str | None = None
    y_title: str | None = None

    @model_validator(mode="after")
    def _heatmap_value(self) -> Chart:
        if (self.kind == "heatmap") != (self.value is not None):
            raise ValueError("a heatmap needs `value` (the cell measure); other charts do not")
        return self

    @property
    def measure(self) -> str:
        return self.value if self.value else self.y

    def columns(self) -> list[str]:
        return [c for c in (self.x, self.y, self.color, self.facet, self.value) if c]


class KpiSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    domain: str = ""  # filled from the file's folder
    title: str
    description: str
    reads: list[str] = Field(min_length=1)  # product ids, <domain>.<name>
    sql: str
    chart: Chart

    @model_validator(mode="after")
    def _snake_case(self) -> KpiSpec:
        if not _SNAKE.match(self.name):
            raise ValueError(f"KPI name {self.name!r} must be snake_case")
        return self

    @property
    def id(self) -> str:
        return f"{self.domain}.{self.name}"


def validate_against_products(
    spec: KpiSpec, descriptors: dict[str, ProductDescriptor], source: str
) -> None:
    """Every product the KPI reads exists, and its SQL reads nothing else."""
    unknown = sorted(set(spec.reads) - set(descriptors))
    if unknown:
        raise KpiError(f"{source}: KPI {spec.name} reads {unknown}, which are not data products")
    try:
        check_product_query(spec.sql, [descriptors[p].sql_port for p in spec.reads])
    except ProductAccessError as error:
        raise KpiError(f"{source}: KPI {spec.name}: {error}") from error


def load_kpis(
    descriptors: dict[str, ProductDescriptor],
    domains_dir: Path = DOMAINS_DIR,
    domain: str | None = None,
) -> list[KpiSpec]:
    """Every KPI of every domain (or one), validated against the product descriptors."""
    specs: list[KpiSpec] = []
    for path in sorted(domains_dir.glob(f"{domain or '*'}/{KPI_FILE}")):
        try:
            entries = (load_yaml(path.read_text()) or {}).get("kpis", [])
            found = [KpiSpec.model_validate({**e, "domain": path.parent.name}) for e in entries]
        except (yaml.YAMLError, ValidationError, AttributeError) as error:
            raise KpiError(f"{path}: {error}") from error
        for spec in found:
            validate_against_products(spec, descriptors, str(path))
        specs.extend(found)
    return specs
