"""The mesh's one calendar: a day in São Paulo is a partition everywhere."""

import warnings

import dagster as dg

from wdc_orchestration.raw.generation.request import EPOCH

MESH_TIMEZONE = "America/Sao_Paulo"

daily_partitions = dg.DailyPartitionsDefinition(
    start_date=EPOCH.isoformat(), timezone=MESH_TIMEZONE, end_offset=0
)

# Every partitioned asset of the mesh backfills a range in one run (BackfillPolicy.single_run: one
# dbt invocation over the window, not one per day). Dagster flags the parameter as beta on each
# asset it builds, in every process that loads a code location (each step worker too): said once
# here instead of dozens of times per load.
warnings.filterwarnings("ignore", message="Parameter `backfill_policy`", category=dg.BetaWarning)
