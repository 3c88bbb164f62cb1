"""Raw arrivals: another system drops exports under `landing/` on the S3 lake (moto's server, with
signature checks); the `<domain>_raw_arrivals` sensor requests one run per object, exactly once,
and the run adopts the export into the raw zone, where the raw gate judges exactly that file."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from dagster_aws.s3 import S3Resource

from domains.customers.definitions import SPEC as CUSTOMERS
from domains.sales.definitions import SPEC as SALES
from tests.conftest import MeshLake
from tests.infra import S3_REGION, S3Server
from wdc_orchestration.dbt.project import load_manifest
from wdc_orchestration.mesh.partitions import daily_partitions
from wdc_orchestration.mesh.spec import DomainSpec
from wdc_orchestration.quality.raw_gate import build_raw_gate
from wdc_orchestration.quality.rules import rules_for
from wdc_orchestration.quality.sensors import build_quarantine_sensor
from wdc_orchestration.raw import arrivals
from wdc_orchestration.raw.arrivals import (
    ARRIVAL_TAG,
    ArrivalCursor,
    build_raw_arrival_sensor,
    evaluate_arrivals,
    run_key,
)
from wdc_orchestration.raw.assets import (
    RawDayAlreadyLandedError,
    build_raw_asset,
    land_day,
    land_or_adopt,
    raw_asset_key,
)
from wdc_orchestration.raw.generation.request import GenerationRequest, RawEntity
from wdc_orchestration.raw.landing import LandingDayError
from wdc_orchestration.raw.read_set import MANIFEST_NAME, read_set, verify_day
from wdc_orchestration.resources.lake import LocalLakeStorage
from wdc_orchestration.resources.s3_lake import S3LakeStorage
from wdc_orchestration.resources.simulation import SimulationResource
from wdc_orchestration.settings import get_settings

DAY_1, DAY_2 = dt.date(2026, 11, 1), dt.date(2026, 11, 2)
LAKE_PREFIX = "mesh"


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as instance:
        yield instance


@pytest.fixture
def lake(s3: S3Server, test_lake: MeshLake) -> Iterator[S3LakeStorage]:
    """A fresh bucket on the session's S3 server (the lake under a prefix, as in production);
    `test_lake` keeps incidents and alerts out of the project's folders."""
    bucket = s3.create_bucket(f"arrivals-{uuid.uuid4().hex[:12]}")
    yield S3LakeStorage(
        bucket=bucket,
        prefix=LAKE_PREFIX,
        s3=S3Resource(
            endpoint_url=s3.endpoint_url,
            region_name=S3_REGION,
            aws_access_key_id=s3.access_key_id,
            aws_secret_access_key=s3.secret_access_key,
        ),
    )


def _entity(spec, name: str) -> RawEntity:
    return next(entity for entity in spec.raw_entities if entity.name == name)


def export_bytes(entity: RawEntity, day: dt.date, rows: int, drop: str | None = None) -> bytes:
    """A source system's export of the day: the first `rows` rows of the simulated day (so it is
    valid and unlike the simulator's own day), optionally without the column `drop`."""
    frame = pl.concat(list(entity.generate(GenerationRequest(date=day, scale_factor=0.01))))
    frame = frame.head(rows)
    if drop:
        frame = frame.drop(drop)
    buffer = io.BytesIO()
    frame.write_parquet(buffer)
    return buffer.getvalue()


def drop(s3: S3Server, lake: S3LakeStorage, key: str, data: bytes) -> str:
    """Another system's PUT under the lake's landing prefix (not through LakeStorage)."""
    s3.client().put_object(Bucket=lake.bucket, Key=f"{LAKE_PREFIX}/{key}", Body=data)
    return key


class Sensor:
    """The domain's arrival sensor beside its raw assets and gates (its target resolves there),
    evaluated tick by tick as the daemon would, on a persistent test instance."""

    def __init__(self, spec: DomainSpec, lake: S3LakeStorage, instance: dg.DagsterInstance) -> None:
        manifest = load_manifest()
        self.lake, self.instance = lake, instance
        raw = [build_raw_asset(spec.name, spec.owner, e) for e in spec.raw_entities]
        # The daily job's stand-in: the raw assets (with their gates) are what a request selects.
        job = dg.define_asset_job(
            f"{spec.name}_daily",
            selection=dg.AssetSelection.assets(*raw),
            partitions_def=daily_partitions,
            executor_def=dg.in_process_executor,
        )
        self.sensor = build_raw_arrival_sensor(spec, job)
        self.definitions = dg.Definitions(
            assets=raw,
            jobs=[job],
            asset_checks=[
                build_raw_gate(rules_for(manifest, spec.name, e.name), e) for e in spec.raw_entities
            ],
            sensors=[self.sensor],
            resources={
                "lake": lake,
                "simulation": SimulationResource(scale_factor=0.01),
                "settings": get_settings(),
            },
        )

    def tick(self, cursor: str | None) -> tuple[list[dg.RunRequest], str | None]:
        with dg.build_sensor_context(
            instance=self.instance,
            cursor=cursor,
            resources={"lake": self.lake},
            definitions=self.definitions,
        ) as context:
            data = self.sensor.evaluate_tick(context)
        return list(data.run_requests or []), data.cursor


def etag(s3: S3Server, lake: S3LakeStorage, key: str) -> str:
    head = s3.client().head_object(Bucket=lake.bucket, Key=f"{LAKE_PREFIX}/{key}")
    return head["ETag"].strip('"')


def test_the_sensor_triggers_once_per_object(
    s3: S3Server,
    lake: S3LakeStorage,
    instance: dg.DagsterInstance,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    orders, items = _entity(SALES, "orders"), _entity(SALES, "order_items")
    sensor = Sensor(SALES, lake, instance)
    first = [
        drop(s3, lake, f"landing/sales/orders/date={DAY_1}/orders-export.parquet", b"o1"),
        drop(s3, lake, f"landing/sales/orders/date={DAY_2}/orders-export.parquet", b"o2"),
        drop(s3, lake, f"landing/sales/order_items/date={DAY_1}/items.parquet", b"i1"),
    ]
    # Not requested: another domain's landing, another layout, an unknown entity, a raw/ file.
    drop(s3, lake, f"landing/finance/payments/date={DAY_1}/payments.parquet", b"p")
    drop(s3, lake, "landing/sales/orders/readme.txt", b"?")
    drop(s3, lake, f"landing/sales/returns/date={DAY_1}/returns.parquet", b"r")
    drop(s3, lake, f"raw/sales/orders/date={DAY_1}/sneaked.parquet", b"x")
    # A day that has not ended yet: held in the cursor, requested once it exists.
    future = drop(s3, lake, "landing/sales/orders/date=2099-01-01/orders.parquet", b"f")

    requests, cursor = sensor.tick(None)
    assert sorted((r.tags[ARRIVAL_TAG], r.partition_key) for r in requests) == sorted(
        (key, key.split("date=")[1][:10]) for key in first
    )
    by_key = {r.tags[ARRIVAL_TAG]: r for r in requests}
    assert by_key[first[0]].asset_selection == [raw_asset_key("sales", orders.name)]
    assert by_key[first[2]].asset_selection == [raw_asset_key("sales", items.name)]
    assert {r.run_key for r in requests} == {run_key(k, etag(s3, lake, k)) for k in first}
    issued = {r.run_key for r in requests}

    # Ticking again with nothing new requests nothing, however often.
    for _ in range(2):
        requests, cursor = sensor.tick(cursor)
        assert requests == []

    # A second export for a day already requested, and a re-sent export at the same key (a new
    # object: same key, other ETag): one request each, and again none after that. S3's
    # LastModified has one-second resolution: these land in the same second as the objects
    # seen before, which the cursor's lookback is for.
    second = drop(s3, lake, f"landing/sales/orders/date={DAY_1}/orders-resend.parquet", b"o1b")
    drop(s3, lake, first[1], b"o2, re-sent")
    requests, cursor = sensor.tick(cursor)
    assert sorted((r.tags[ARRIVAL_TAG], r.partition_key) for r in requests) == [
        (second, str(DAY_1)),
        (first[1], str(DAY_2)),
    ]
    assert issued.isdisjoint(r.run_key for r in requests)
    issued |= {r.run_key for r in requests}
    assert sensor.tick(cursor)[0] == []

    # A lost cursor lists everything again, but only with run keys already issued: the daemon
    # launches no run for a run key it launched, so no object triggers twice.
    requests, _ = sensor.tick(None)
    assert {r.run_key for r in requests} <= issued

    # The day that has not ended is held, not requested; once it exists, it is requested once
    # (the partitions' end moved forward stands in for the calendar).
    assert future not in {r.run_key.split("@")[0] for r in requests}
    held = ArrivalCursor.load(cursor)
    assert held.pending == {future: etag(s3, lake, future)}
    monkeypatch.setattr(
        arrivals,
        "daily_partitions",
        dg.DailyPartitionsDefinition(start_date="2024-01-01", end_offset=50_000),
    )
    requests, released = evaluate_arrivals("sales", ["orders", "order_items"], [], held)
    assert [(r.tags[ARRIVAL_TAG], r.partition_key) for r in requests] == [(future, "2099-01-01")]
    assert evaluate_arrivals("sales", ["orders", "order_items"], [], released)[0] == []


def _materialize(
    lake: S3LakeStorage, entity: RawEntity, day: dt.date, instance: dg.DagsterInstance
) -> dg.ExecuteInJobResult:
    """What a requested run does: the raw asset of the day, with its raw gate."""
    gate = build_raw_gate(rules_for(load_manifest(), CUSTOMERS.name, entity.name), entity)
    return dg.materialize(
        [build_raw_asset(CUSTOMERS.name, CUSTOMERS.owner, entity), gate],
        partition_key=day.isoformat(),
        resources={
            "lake": lake,
            "simulation": SimulationResource(scale_factor=0.01),
            "settings": get_settings(),
        },
        instance=instance,
        raise_on_error=False,
    )


def test_a_requested_run_lands_exactly_the_export(
    s3: S3Server, lake: S3LakeStorage, instance: dg.DagsterInstance, tmp_path: Path
) -> None:
    customers = _entity(CUSTOMERS, "customers")
    export = export_bytes(customers, DAY_1, rows=7)
    source = drop(s3, lake, f"landing/customers/customers/date={DAY_1}/crm-export.parquet", export)
    (request,) = Sensor(CUSTOMERS, lake, instance).tick(None)[0]
    assert request.partition_key == DAY_1.isoformat()

    result = _materialize(lake, customers, dt.date.fromisoformat(request.partition_key), instance)
    assert result.success
    evaluations = result.get_asset_check_evaluations()
    assert evaluations and all(c.passed for c in evaluations), evaluations

    prefix = f"raw/customers/customers/date={DAY_1}"
    assert lake.list_keys(prefix + "/") == [
        f"{prefix}/{MANIFEST_NAME}",
        f"{prefix}/customers.parquet",
    ]
    manifest = json.loads(lake.read_bytes(f"{prefix}/{MANIFEST_NAME}"))
    digest = hashlib.sha256(export).hexdigest()
    assert manifest["files"] == {"customers.parquet": digest}
    assert manifest["rows"] == 7
    assert manifest["params"] == {"source": source, "sha256": digest}
    assert lake.read_bytes(f"{prefix}/customers.parquet") == export
    # What staging reads is that file, and its rows are the export's.
    assert read_set(lake, "customers", "customers") == [lake.url(f"{prefix}/customers.parquet")]
    landed = pl.read_parquet(io.BytesIO(lake.read_bytes(f"{prefix}/customers.parquet")))
    assert landed.equals(pl.read_parquet(io.BytesIO(export)))

    # The trust boundary is unchanged: a file put into raw/ directly is still unexpected.
    sneaked = tmp_path / "sneaked.parquet"
    sneaked.write_bytes(export)
    lake.put_file(sneaked, f"{prefix}/sneaked.parquet")
    assert verify_day(lake, "customers", "customers", DAY_1).unexpected == (
        f"{prefix}/sneaked.parquet",
    )


def test_a_bad_arrival_fails_the_gate_and_is_quarantined(
    s3: S3Server, lake: S3LakeStorage, instance: dg.DagsterInstance
) -> None:
    customers = _entity(CUSTOMERS, "customers")
    export = export_bytes(customers, DAY_2, rows=5, drop="cpf")
    drop(s3, lake, f"landing/customers/customers/date={DAY_2}/crm-export.parquet", export)
    (request,) = Sensor(CUSTOMERS, lake, instance).tick(None)[0]

    result = _materialize(lake, customers, dt.date.fromisoformat(request.partition_key), instance)
    assert not result.success
    failed = {c.check_name for c in result.get_asset_check_evaluations() if not c.passed}
    assert "raw_schema_matches_staging" in failed
    # The domain's quarantine sensor acts on the failed gate, as the daemon would have it.
    with dg.build_sensor_context(
        instance=instance, resources={"lake": lake, "settings": get_settings()}
    ) as context:
        build_quarantine_sensor(CUSTOMERS.name).evaluate_tick(context)

    prefix = f"raw/customers/customers/date={DAY_2}"
    assert lake.list_keys(prefix + "/") == []  # never in the read path
    assert read_set(lake, "customers", "customers") == []
    moved = lake.list_keys(f"quarantine/customers/customers/date={DAY_2}/")
    assert sorted(key.rsplit("/", 1)[1] for key in moved) == [MANIFEST_NAME, "customers.parquet"]
    incidents = [json.loads(lake.read_bytes(k)) for k in lake.list_keys("quality/incidents/")]
    assert "raw_schema_matches_staging" in {incident["check"] for incident in incidents}
    # The export stays where its system put it, for a fixed one to replace.
    assert lake.list_keys(f"landing/customers/customers/date={DAY_2}/")


def test_landing_rules_on_a_local_lake(tmp_path: Path) -> None:
    """Without a sensor (a local lake), every run of a raw asset adopts an export it finds; a day
    landed from one source is not replaced by another silently; one export per day."""
    lake = LocalLakeStorage(root=str(tmp_path / "lake"))
    customers = _entity(CUSTOMERS, "customers")
    request = GenerationRequest(date=DAY_1, scale_factor=0.01)
    export = tmp_path / "export.parquet"
    export.write_bytes(export_bytes(customers, DAY_1, rows=3))
    lake.put_file(export, f"landing/customers/customers/date={DAY_1}/a.parquet")

    assert land_or_adopt(lake, "customers", customers, request).rows == 3
    again = land_or_adopt(lake, "customers", customers, request)
    assert (again.outcome, again.rows) == ("already landed", 3)

    # The simulator's day stands; an export arriving for it afterwards needs overwrite.
    land_day(lake, "customers", customers, GenerationRequest(date=DAY_2, scale_factor=0.01))
    lake.put_file(export, f"landing/customers/customers/date={DAY_2}/a.parquet")
    with pytest.raises(RawDayAlreadyLandedError, match="overwrite=true"):
        land_or_adopt(
            lake, "customers", customers, GenerationRequest(date=DAY_2, scale_factor=0.01)
        )
    replaced = land_or_adopt(
        lake, "customers", customers, GenerationRequest(date=DAY_2, scale_factor=0.01), True
    )
    assert (replaced.outcome, replaced.rows) == ("overwritten", 3)
    assert verify_day(lake, "customers", "customers", DAY_2).ok

    # Two files in one landing day: refused, naming them; nothing lands.
    day_3 = DAY_2 + dt.timedelta(days=1)
    for name in ("a.parquet", "b.parquet"):
        lake.put_file(export, f"landing/customers/customers/date={day_3}/{name}")
    with pytest.raises(LandingDayError, match="b.parquet"):
        land_or_adopt(
            lake, "customers", customers, GenerationRequest(date=day_3, scale_factor=0.01)
        )
    assert lake.list_keys(f"raw/customers/customers/date={day_3}/") == []
