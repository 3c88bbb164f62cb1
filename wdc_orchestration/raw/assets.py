"""Raw (bronze) assets: each domain's source-system simulator lands one immutable file per entity
and day under raw/<domain>/<entity>/date=YYYY-MM-DD/ on the lake — or, when the source system
dropped its own export of the day in the landing zone, that export is adopted instead
(raw/landing.py)."""

import datetime as dt
import json
import logging
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
from pydantic import Field

from wdc_orchestration.lakehouse.faults import retry_transient
from wdc_orchestration.lakehouse.run_window import partition_day
from wdc_orchestration.logs import TeeLog
from wdc_orchestration.mesh.partitions import daily_partitions
from wdc_orchestration.raw.generation.request import GenerationRequest, RawEntity
from wdc_orchestration.raw.generation.writer import EXTENSIONS, refreshed, write_chunks
from wdc_orchestration.raw.landing import adopt_day, adoption_params, export_of_day
from wdc_orchestration.raw.read_set import (
    MANIFEST_NAME,
    manifest_json,
    partition_prefix,
    sha256_of,
)
from wdc_orchestration.resources.lake import LakeStorage
from wdc_orchestration.resources.simulation import SimulationResource

KINDS = {"parquet": "parquet", "csv": "csv", "jsonl": "json"}

log = logging.getLogger(__name__)


class RawLandingConfig(dg.Config):
    overwrite: bool = Field(
        default=False,
        description="Replace a day that already landed (logged). Off: a landed day is left as is.",
    )
    defects: list[str] = Field(
        default_factory=list, description="Named defects to plant in this day's raw data."
    )


def raw_asset_key(domain: str, entity: str) -> dg.AssetKey:
    return dg.AssetKey([domain, "raw", entity])


class RawDayAlreadyLandedError(Exception):
    """A day landed before with different parameters: raw data is never replaced silently."""


@dataclass(frozen=True)
class Landing:
    """What landing one day of one entity did."""

    day: dt.date
    key: str
    rows: int
    bytes: int
    sha256: str
    schema: dict[str, str]
    outcome: str  # "landed" | "overwritten" | "already landed"
    seconds: float


def _landed_before(
    lake: LakeStorage,
    prefix: str,
    key: str,
    params: dict,
    overwrite: bool,
    day: dt.date,
    log: logging.Logger | TeeLog,
) -> tuple[Landing | None, str]:
    """Immutability of a landed day: (the landing to report, outcome). A day that landed is left
    as is (same parameters: the Landing is returned), refused (other parameters), or replaced only
    when `overwrite` (outcome "overwritten"); a day not landed yet is "landed"."""
    manifest_key = f"{prefix}/{MANIFEST_NAME}"
    if not lake.exists(manifest_key):
        return None, "landed"
    landed = json.loads(lake.read_bytes(manifest_key))
    if overwrite:
        log.warning(f"{prefix}: overwriting the landed day as asked (was {landed['params']})")
        return None, "overwritten"
    if landed["params"] != params:
        raise RawDayAlreadyLandedError(
            f"{prefix} landed before with {landed['params']}, this run asks {params}. "
            "Raw data is immutable: rerun with config overwrite=true to replace it."
        )
    log.info(f"{prefix} already landed ({landed['rows']} rows): left as is")
    (digest,) = landed["files"].values()
    schema = landed.get("schema", {})
    return Landing(day, key, landed["rows"], 0, digest, schema, "already landed", 0.0), (
        "already landed"
    )


def land_day(
    lake: LakeStorage,
    domain: str,
    entity: RawEntity,
    request: GenerationRequest,
    overwrite: bool = False,
    log: logging.Logger | TeeLog = log,
) -> Landing:
    """Simulate one day of `entity` and publish it on the lake, immutably: a day that landed is
    left as is (same parameters), refused (other parameters), or replaced only when `overwrite`."""
    file_name = f"{entity.name}.{EXTENSIONS[entity.file_format]}"
    prefix = partition_prefix(domain, entity.name, request.date)
    key, manifest_key = f"{prefix}/{file_name}", f"{prefix}/{MANIFEST_NAME}"
    params = {"seed": request.seed, "scale_factor": request.scale_factor}
    before, outcome = _landed_before(lake, prefix, key, params, overwrite, request.date, log)
    if before is not None:
        return before

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="wdc-raw-") as scratch:
        written = write_chunks(
            entity.generate(request), entity.file_format, Path(scratch) / file_name
        )
        # A generator may damage its finished file on purpose (planted file-level defects, see
        # domains/_shared/defects.py); the manifest then describes the file that really lands.
        finish_file = getattr(entity.generate, "finish_file", None)
        if finish_file is not None and finish_file(request, written.path):
            written = refreshed(written)
        lake.put_file(written.path, key)
        manifest = {
            "rows": written.rows,
            "files": {file_name: written.sha256},
            "schema": written.schema,
            "params": params,
            "defects": sorted(request.defects),
            "landed_at": dt.datetime.now(dt.UTC).isoformat(),
        }
        # The manifest goes last: its presence means the day landed completely.
        lake.put_bytes(manifest_json(manifest), manifest_key, Path(scratch))
    seconds = time.perf_counter() - started
    log.info(
        f"{outcome} {written.rows} rows in {key} ({written.bytes / 1e6:.1f} MB, "
        f"{written.rows / max(seconds, 1e-9):,.0f} rows/s)"
    )
    return Landing(
        request.date,
        key,
        written.rows,
        written.bytes,
        written.sha256,
        written.schema,
        outcome,
        seconds,
    )


def land_or_adopt(
    lake: LakeStorage,
    domain: str,
    entity: RawEntity,
    request: GenerationRequest,
    overwrite: bool = False,
    log: logging.Logger | TeeLog = log,
) -> Landing:
    """Land one day of `entity`: the source system's export when one was dropped in the landing
    zone for that day (raw/landing.py: it replaces the simulation), else the simulator's day. Either
    way the day is immutable once landed, and a day landed from one source is not silently
    replaced by the other: that needs `overwrite`."""
    source = export_of_day(lake, domain, entity.name, request.date)
    if source is None:
        return land_day(lake, domain, entity, request, overwrite, log)
    if request.defects:
        # Planted defects are the simulator's; an export arrives as its system made it.
        log.warning(
            f"{source}: an export is adopted as it is; "
            f"defects {sorted(request.defects)} not planted"
        )
    file_name = f"{entity.name}.{EXTENSIONS[entity.file_format]}"
    prefix = partition_prefix(domain, entity.name, request.date)
    key = f"{prefix}/{file_name}"
    params = adoption_params(source, sha256_of(lake, source))
    before, outcome = _landed_before(lake, prefix, key, params, overwrite, request.date, log)
    if before is not None:
        return before
    key, rows, size, digest, schema, seconds = adopt_day(
        lake, domain, entity, request.date, source, log
    )
    return Landing(request.date, key, rows, size, digest, schema, outcome, seconds)


def build_raw_asset(domain: str, owner: str, entity: RawEntity) -> dg.AssetsDefinition:
    @dg.asset(
        key=raw_asset_key(domain, entity.name),
        group_name=domain,
        owners=[owner],
        description=entity.description,
        partitions_def=daily_partitions,
        # A backfill of N days is one run that lands the days in order, like the dbt assets.
        backfill_policy=dg.BackfillPolicy.single_run(),
        kinds={"python", KINDS[entity.file_format]},
        tags={"wdc/layer": "raw"},
        metadata={"wdc/file_format": entity.file_format},
    )
    def _raw(
        context: dg.AssetExecutionContext,
        config: RawLandingConfig,
        lake: LakeStorage,
        simulation: SimulationResource,
    ) -> dg.MaterializeResult:
        # A retry is safe: a day whose manifest landed is left as is; one cut short before
        # its manifest is landed again, over the same key (land_or_adopt: a simulated day or a
        # source system's export alike).
        with retry_transient(context, f"raw landing of {domain}.{entity.name}"):
            landings = [
                land_or_adopt(
                    lake,
                    domain,
                    entity,
                    GenerationRequest(
                        date=partition_day(partition_key),
                        scale_factor=simulation.scale_factor,
                        seed=simulation.seed,
                        chunk_rows=simulation.chunk_rows,
                        defects=frozenset(config.defects),
                    ),
                    overwrite=config.overwrite,
                    log=TeeLog(context.log, log),
                )
                for partition_key in context.partition_keys
            ]
        last = landings[-1]
        landed = [x for x in landings if x.outcome != "already landed"]
        seconds = sum(x.seconds for x in landed)
        metadata: dict[str, object] = {
            "dagster/row_count": sum(x.rows for x in landings),
            "dagster/uri": lake.url(last.key),
            "days": len(landings),
            "landing": ", ".join(sorted({x.outcome for x in landings})),
            "sha256": last.sha256,
        }
        if last.schema:
            metadata["dagster/column_schema"] = dg.TableSchema(
                columns=[dg.TableColumn(name, dtype) for name, dtype in last.schema.items()]
            )
        if landed:
            metadata["bytes"] = sum(x.bytes for x in landed)
            metadata["rows_per_second"] = round(sum(x.rows for x in landed) / max(seconds, 1e-9))
        return dg.MaterializeResult(metadata=metadata)

    return _raw
