"""Raw (bronze) assets: each domain's source-system simulator lands one immutable file per entity
and day under raw/<domain>/<entity>/date=YYYY-MM-DD/ on the lake."""


import datetime as dt
import json
import tempfile
import time
from pathlib import Path

import dagster as dg
from pydantic import Field

from wdc_orchestration.generation.request import GenerationRequest, RawEntity
from wdc_orchestration.generation.writer import EXTENSIONS, write_chunks
from wdc_orchestration.partitions import daily_partitions
from wdc_orchestration.resources.lake import LakeStorage
from wdc_orchestration.resources.simulation import SimulationResource

MANIFEST_NAME = "_manifest.json"
KINDS = {"parquet": "parquet", "csv": "csv", "jsonl": "json"}


class RawLandingConfig(dg.Config):
    overwrite: bool = Field(
        default=False,
        description="Replace a day that already landed (logged). Off: a landed day is left as is.",
    )
    defects: list[str] = Field(
        default_factory=list, description="Named defects to plant in this day's raw data."
    )


def partition_prefix(domain: str, entity: str, day: dt.date) -> str:
    return f"raw/{domain}/{entity}/date={day.isoformat()}"


def raw_asset_key(domain: str, entity: str) -> dg.AssetKey:
    return dg.AssetKey([domain, "raw", entity])


class RawDayAlreadyLandedError(Exception):
    """A day landed before with different parameters: raw data is never replaced silently."""


def build_raw_asset(domain: str, owner: str, entity: RawEntity) -> dg.AssetsDefinition:
    file_name = f"{entity.name}.{EXTENSIONS[entity.file_format]}"

    @dg.asset(
        key=raw_asset_key(domain, entity.name),
        group_name=domain,
        owners=[owner],
        description=entity.description,
        partitions_def=daily_partitions,
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
        day = dt.date.fromisoformat(context.partition_key)
        prefix = partition_prefix(domain, entity.name, day)
        request = GenerationRequest(
            date=day,
            scale_factor=simulation.scale_factor,
            seed=simulation.seed,
            chunk_rows=simulation.chunk_rows,
            defects=frozenset(config.defects),
        )
        params = {"seed": request.seed, "scale_factor": request.scale_factor}
        manifest_key = f"{prefix}/{MANIFEST_NAME}"
        if lake.exists(manifest_key):
            landed = json.loads(lake.read_bytes(manifest_key))
            if not config.overwrite:
                if landed["params"] != params:
                    raise RawDayAlreadyLandedError(
                        f"{prefix} landed before with {landed['params']}, this run asks {params}. "
                        "Raw data is immutable: rerun with config overwrite=true to replace it."
                    )
                context.log.info(f"{prefix} already landed ({landed['rows']} rows): nothing to do")
                return dg.MaterializeResult(
                    metadata={
                        "dagster/row_count": landed["rows"],
                        "dagster/uri": lake.url(f"{prefix}/{file_name}"),
                        "landing": "already landed, left as is",
                    }
                )
            context.log.warning(f"{prefix}: overwriting the landed day as asked (was {landed})")

        started = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="wdc-raw-") as scratch:
            written = write_chunks(
                entity.generate(request), entity.file_format, Path(scratch) / file_name
            )
            lake.put_file(written.path, f"{prefix}/{file_name}")
            manifest = {
                "rows": written.rows,
                "files": {file_name: written.sha256},
                "params": params,
                "defects": sorted(request.defects),
                "landed_at": dt.datetime.now(dt.UTC).isoformat(),
            }
            # The manifest goes last: its presence means the day landed completely.
            lake.put_bytes(json.dumps(manifest, indent=2).encode(), manifest_key, Path(scratch))
        seconds = time.perf_counter() - started
        context.log.info(
            f"landed {written.rows} rows in {prefix}/{file_name} ({written.bytes / 1e6:.1f} MB, "
            f"{written.rows / max(seconds, 1e-9):,.0f} rows/s)"
        )
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": written.rows,
                "dagster/uri": lake.url(f"{prefix}/{file_name}"),
                "dagster/column_schema": dg.TableSchema(
                    columns=[dg.TableColumn(n, t) for n, t in written.schema.items()]
                ),
                "bytes": written.bytes,
                "sha256": written.sha256,
                "rows_per_second": round(written.rows / max(seconds, 1e-9)),
                "landing": "overwritten" if config.overwrite else "landed",
            }
        )

    return _raw
