"""Benchmark 1: raw generation. Rows per second for one whole-mesh day (every domain's every
entity, simulated and written to the lake as the raw assets do) at several scale factors, in the
same run as:
  (a) a Faker pt_BR row-by-row loop producing the CRM customers schema (written to Parquet),
  (b) DuckDB's own COPY of the same rows and columns (each landed file loaded into DuckDB first,
      untimed, then COPY'd to the same format, and to Parquet): the cost of just writing the bytes,
  (c) the peer generator jafgen (jaffle-shop-generator, PyPI), run with `uvx` (skipped, with the
      reason, when it cannot be installed or run here).

    uv run python -m bench.generation --scale-factors 0.1 1 10
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from bench.common import log, report, setup_logging, simulator_entities, target, temp_lake
from wdc_orchestration.raw.assets import land_day
from wdc_orchestration.raw.generation.request import GenerationRequest
from wdc_orchestration.resources.lake import LocalLakeStorage

COPY_FORMATS = {
    "parquet": "(FORMAT parquet, COMPRESSION zstd)",
    "csv": "(FORMAT csv, HEADER true)",
    "jsonl": "(FORMAT json)",
}
READERS = {"parquet": "read_parquet", "csv": "read_csv", "jsonl": "read_json"}


def land_whole_day(lake_root: Path, day: dt.date, scale_factor: float, seed: int) -> list[dict]:
    """Every entity of every domain for `day`, through the platform's own landing code."""
    lake = LocalLakeStorage(root=str(lake_root))
    rows = []
    for domain, entities in simulator_entities().items():
        for entity in entities:
            request = GenerationRequest(date=day, scale_factor=scale_factor, seed=seed)
            started = time.perf_counter()
            landing = land_day(lake, domain, entity, request)
            rows.append(
                {
                    "domain": domain,
                    "entity": entity.name,
                    "format": entity.file_format,
                    "rows": landing.rows,
                    "mb": landing.bytes / 1e6,
                    "seconds": time.perf_counter() - started,
                    "path": str(lake_root / landing.key),
                }
            )
    return rows


def duckdb_copy(landed: list[dict], scratch: Path) -> dict[str, float]:
    """Seconds DuckDB takes to COPY the same rows (already in memory) to the same formats, and to
    zstd Parquet for every entity."""
    con = duckdb.connect()
    same_format = parquet = 0.0
    for number, entity in enumerate(landed):
        table = f"t{number}"
        reader = READERS[entity["format"]]
        con.execute(f"CREATE TABLE {table} AS SELECT * FROM {reader}('{entity['path']}')")
        for fmt, bucket in ((entity["format"], "same"), ("parquet", "parquet")):
            out = scratch / f"{table}-{bucket}.{fmt}"
            started = time.perf_counter()
            con.execute(f"COPY {table} TO '{out}' {COPY_FORMATS[fmt]}")
            seconds = time.perf_counter() - started
            if bucket == "same":
                same_format += seconds
            else:
                parquet += seconds
        con.execute(f"DROP TABLE {table}")
    con.close()
    return {"same_format": same_format, "parquet": parquet}


def faker_customers(rows: int, out: Path, seed: int) -> float:
    """The naive way: Faker pt_BR, one customer row at a time, then a zstd Parquet write.
    Returns rows per second (building and writing)."""
    from faker import Faker

    fake = Faker("pt_BR")
    Faker.seed(seed)
    rng = random.Random(seed)
    segments = ("varejo", "premium", "corporativo")
    now = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    started = time.perf_counter()
    records = [
        {
            "id_cliente": i,
            "nome": fake.name(),
            "cpf": fake.cpf(),
            "email": fake.email(),
            "telefone": fake.phone_number(),
            "cidade": fake.city(),
            "uf": fake.estado_sigla(),
            "data_nascimento": fake.date_of_birth(minimum_age=18, maximum_age=90),
            "data_cadastro": fake.date_between(start_date=dt.date(2024, 1, 1), end_date=now),
            "segmento": rng.choice(segments),
            "atualizado_em": now,
        }
        for i in range(1, rows + 1)
    ]
    pq.write_table(pa.Table.from_pylist(records), out, compression="zstd")
    return rows / (time.perf_counter() - started)


def jafgen(years: int, scratch: Path, timeout: float) -> dict[str, Any]:
    """jafgen's rows per second (the CSVs it writes), or why it was skipped."""
    uvx = shutil.which("uvx")
    if uvx is None:
        return {"skipped": "uvx is not on PATH"}
    command = [uvx, "--from", "jafgen", "jafgen"]
    try:
        # First call installs jafgen into uv's cache (from PyPI), timed apart from the run.
        subprocess.run([*command, "--help"], cwd=scratch, capture_output=True, check=True,
                       timeout=timeout)  # fmt: skip
        started = time.perf_counter()
        subprocess.run([*command, str(years)], cwd=scratch, capture_output=True, check=True,
                       timeout=timeout)  # fmt: skip
        seconds = time.perf_counter() - started
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as error:
        detail = getattr(error, "stderr", b"") or b""
        return {"skipped": f"jafgen could not run here: {error} {detail[-300:]!r}"}
    rows = 0
    for csv in scratch.rglob("*.csv"):
        with open(csv, "rb") as handle:
            rows += max(sum(1 for _ in handle) - 1, 0)
    return {"rows": rows, "seconds": seconds, "rows_per_second": rows / seconds, "years": years}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale-factors", type=float, nargs="+", default=[0.1, 1.0, 10.0])
    parser.add_argument("--date", default="2026-11-01")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--faker-rows", type=int, default=20_000)
    parser.add_argument("--jafgen-years", type=int, default=1)
    parser.add_argument("--skip-jafgen", action="store_true", help="(the smoke test does)")
    parser.add_argument("--jafgen-timeout", type=float, default=900)
    args = parser.parse_args(argv)
    setup_logging()
    day = dt.date.fromisoformat(args.date)

    rows, entities = [], []
    faker_rps = None
    with tempfile.TemporaryDirectory(prefix="wdc-bench-gen-") as scratch:
        scratch_path = Path(scratch)
        log.info("Faker loop: %d customer rows", args.faker_rows)
        faker_rps = faker_customers(args.faker_rows, scratch_path / "faker.parquet", args.seed)
        for scale_factor in args.scale_factors:
            with temp_lake(f"gen-sf{scale_factor}") as root:
                log.info("whole-mesh day at SF %s", scale_factor)
                landed = land_whole_day(root / "lake", day, scale_factor, args.seed)
                copy = duckdb_copy(landed, scratch_path)
            total_rows = sum(x["rows"] for x in landed)
            seconds = sum(x["seconds"] for x in landed)
            customers = next(x for x in landed if x["entity"] == "customers")
            rps = total_rows / seconds
            rows.append(
                {
                    "scale_factor": scale_factor,
                    "rows": total_rows,
                    "mb": sum(x["mb"] for x in landed),
                    "seconds": seconds,
                    "rows_per_s": rps,
                    "duckdb_copy_rows_per_s": total_rows / copy["same_format"],
                    "duckdb_copy_parquet_rows_per_s": total_rows / copy["parquet"],
                    "vs_duckdb_copy": rps / (total_rows / copy["same_format"]),
                    "customers_rows_per_s": customers["rows"] / customers["seconds"],
                    "customers_vs_faker": customers["rows"] / customers["seconds"] / faker_rps,
                }
            )
            entities += [
                {"scale_factor": scale_factor, **{k: v for k, v in x.items() if k != "path"}}
                for x in landed
            ]
        peer = (
            {"skipped": "--skip-jafgen"}
            if args.skip_jafgen
            else jafgen(args.jafgen_years, scratch_path, args.jafgen_timeout)
        )
    best = max(rows, key=lambda r: r["scale_factor"])
    targets = {
        "rows_per_s >= 1M (largest SF)": target(best["rows_per_s"], 1e6, True),
        "customers >= 100x Faker": target(best["customers_vs_faker"], 100, True),
        ">= 0.5x DuckDB COPY": target(best["vs_duckdb_copy"], 0.5, True),
    }
    if "rows_per_second" in peer:
        targets["vs jafgen"] = f"{best['rows_per_s'] / peer['rows_per_second']:.0f}x"
    report(
        "generation",
        rows,
        faker_rows_per_s=round(faker_rps),
        jafgen=peer,
        entities=entities,
        targets=targets,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
