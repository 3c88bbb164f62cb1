"""What a landed raw day must satisfy, read from the dbt source that staging reads it through:
the source's declared columns are the schema staging expects, and its `meta.quality` block holds
the domain's rules. The domain owns its rules (in its sources YAML); the platform enforces them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# The hive partition column DuckDB adds from the `date=` folder: not in the file itself.
PARTITION_COLUMN = "date"


@dataclass(frozen=True)
class Reference:
    """`column` must exist in `target`: `<domain>.<product>.<column>` (a data product) or
    `<domain>.raw.<entity>.<column>` (the owning source system's export of the same day)."""

    column: str
    target: str

    @property
    def parts(self) -> list[str]:
        return self.target.split(".")

    @property
    def is_raw(self) -> bool:
        return len(self.parts) == 4 and self.parts[1] == "raw"

    @property
    def target_asset_path(self) -> list[str]:
        return self.parts[:-1]

    @property
    def target_column(self) -> str:
        return self.parts[-1]


@dataclass(frozen=True)
class RawRules:
    """The raw gate of one entity."""

    domain: str
    entity: str
    expected_columns: tuple[str, ...]
    key: tuple[str, ...] = ()
    unique: tuple[str, ...] = ()
    not_null: tuple[str, ...] = ()
    non_negative: tuple[str, ...] = ()
    in_partition: tuple[str, ...] = ()  # timestamps whose America/Sao_Paulo date is the day
    not_after_partition: tuple[str, ...] = ()  # dates on or before the day
    formats: Mapping[str, str] = field(default_factory=dict)  # column -> validator name
    references: tuple[Reference, ...] = ()


def _names(value: Any) -> tuple[str, ...]:
    return tuple(value or ())


def rules_for(manifest: Mapping[str, Any], domain: str, entity: str) -> RawRules:
    """The rules of `<domain>_raw.<entity>` in the dbt manifest (a missing source raises)."""
    unique_id = f"source.{manifest['metadata'].get('project_name', 'wdc')}.{domain}_raw.{entity}"
    source = manifest["sources"].get(unique_id)
    if source is None:
        raise KeyError(f"dbt source {domain}_raw.{entity} is not in the manifest ({unique_id})")
    quality = (source.get("config", {}).get("meta") or source.get("meta") or {}).get("quality", {})
    return RawRules(
        domain=domain,
        entity=entity,
        expected_columns=tuple(c for c in source["columns"] if c != PARTITION_COLUMN),
        key=_names(quality.get("key")),
        unique=_names(quality.get("unique")),
        not_null=_names(quality.get("not_null")),
        non_negative=_names(quality.get("non_negative")),
        in_partition=_names(quality.get("in_partition")),
        not_after_partition=_names(quality.get("not_after_partition")),
        formats=dict(quality.get("formats") or {}),
        references=tuple(
            Reference(column=r["column"], target=r["to"]) for r in quality.get("references") or ()
        ),
    )
