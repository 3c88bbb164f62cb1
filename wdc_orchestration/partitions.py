"""The mesh's one calendar: a day in São Paulo is a partition everywhere."""

import dagster as dg

from wdc_orchestration.generation.request import EPOCH

MESH_TIMEZONE = "America/Sao_Paulo"

daily_partitions = dg.DailyPartitionsDefinition(
    start_date=EPOCH.isoformat(), timezone=MESH_TIMEZONE, end_offset=0
)
