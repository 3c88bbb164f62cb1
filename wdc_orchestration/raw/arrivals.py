"""Raw arrivals: when another system drops a day's export under the landing prefix
(`landing/<domain>/<entity>/date=YYYY-MM-DD/<file>`, raw/landing.py), the domain's
`<domain>_raw_arrivals` sensor requests a run of the domain's daily job for that day, selecting
that entity's raw asset alone: it adopts the export into the raw zone (raw.land_or_adopt) and
runs the raw gate on it. The nightly run builds the models on it as on any landed day.

Exactly once per object. An object is its key and its ETag (a re-sent export at the same key is a
new object). The cursor keeps the newest `LastModified` seen and the objects handled within
`LOOKBACK` of it; a tick lists with `dagster_aws.s3.sensor.get_objects(since_last_modified=newest
- LOOKBACK)` and skips the objects the cursor holds. Why not `since_last_modified=newest` alone:
S3's LastModified has one-second resolution and `get_objects` compares strictly, so an object
stored in the same second as the newest one seen, after the tick that saw it, would never be
listed; and a multipart upload's LastModified is when it *started*, so a long upload appears with
an older time than objects already seen. The run key is the key and ETag too: the daemon launches
no second run for a run key it launched, so even a lost cursor triggers nothing twice.

An object for a day whose partition does not exist yet (the day has not ended in São Paulo) is
held in the cursor and requested once the day exists. An object that does not map to an entity
and a day (a folder marker, an unknown entity, another layout) is logged once and never run.

Only with an `s3://` lake: `get_objects` is S3's listing. A local lake is the embedded
single-machine default, where no other system drops files; there `wdc materialize` (and every
run of a raw asset) still adopts an export found in `landing/`, so the landing contract works
and is tested locally too, without a sensor polling a folder."""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import dagster as dg

from wdc_orchestration.mesh.partitions import daily_partitions
from wdc_orchestration.mesh.spec import DomainSpec
from wdc_orchestration.raw.assets import raw_asset_key
from wdc_orchestration.raw.landing import landing_day_of, landing_domain_prefix
from wdc_orchestration.resources.lake import LakeStorage
from wdc_orchestration.settings import is_s3, sensor_interval_seconds

if TYPE_CHECKING:  # dagster-aws is imported only with an s3:// lake (resources/lake.py)
    from wdc_orchestration.resources.s3_lake import S3LakeStorage

log = logging.getLogger(__name__)

# How far behind the newest LastModified seen a tick lists again (see the module docstring): long
# enough for a multipart upload of a day's export to finish; the cursor holds the objects of this
# window only, so its size is what a domain's systems drop in an hour.
LOOKBACK = dt.timedelta(hours=1)

ARRIVAL_TAG = "wdc/arrival"
ARRIVAL_ETAG_TAG = "wdc/arrival_etag"


@dataclass
class ArrivalCursor:
    """What the sensor handled: the newest LastModified seen, the objects handled since
    (newest - LOOKBACK) as key -> [etag, LastModified], and the objects waiting for their day's
    partition as key -> etag."""

    newest: dt.datetime | None = None
    seen: dict[str, list[str]] = field(default_factory=dict)
    pending: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, cursor: str | None) -> ArrivalCursor:
        if not cursor:
            return cls()
        data = json.loads(cursor)
        newest = dt.datetime.fromisoformat(data["newest"]) if data.get("newest") else None
        return cls(newest, dict(data.get("seen", {})), dict(data.get("pending", {})))

    def dump(self) -> str:
        newest = self.newest.isoformat() if self.newest else None
        return json.dumps(
            {"newest": newest, "seen": self.seen, "pending": self.pending}, sort_keys=True
        )

    def handled(self, key: str, etag: str) -> bool:
        return (key in self.seen and self.seen[key][0] == etag) or self.pending.get(key) == etag


def run_key(key: str, etag: str) -> str:
    return f"{key}@{etag}"


def _request(domain: str, entity: str, day: dt.date, key: str, etag: str) -> dg.RunRequest:
    return dg.RunRequest(
        run_key=run_key(key, etag),
        asset_selection=[raw_asset_key(domain, entity)],
        partition_key=day.isoformat(),
        tags={ARRIVAL_TAG: key, ARRIVAL_ETAG_TAG: etag},
    )


def list_arrivals(
    lake: S3LakeStorage, prefix: str, since: dt.datetime | None
) -> list[dict[str, Any]]:
    """The landing objects under `prefix` (relative to the lake root) modified after `since`,
    oldest first, with their keys relative to the lake root."""
    from dagster_aws.s3.sensor import get_objects

    # The lake's own key mapping (its prefix inside the bucket): the platform's one S3 client.
    lake_prefix = lake._key("")
    strip = len(lake_prefix) + 1 if lake_prefix else 0
    objects = get_objects(
        bucket=lake.bucket,
        prefix=lake._key(prefix),
        since_last_modified=since,
        client=lake.client(),
    )
    return [
        {
            "key": obj["Key"][strip:],
            "etag": str(obj.get("ETag", "")).strip('"'),
            "last_modified": obj["LastModified"],
        }
        for obj in objects
    ]


def evaluate_arrivals(
    domain: str,
    entities: Sequence[str],
    objects: Sequence[dict[str, Any]],
    cursor: ArrivalCursor,
    context_log: logging.Logger | Any = log,
) -> tuple[list[dg.RunRequest], ArrivalCursor]:
    """One RunRequest per object not handled yet whose (entity, day) exists; the new cursor."""
    requests: list[dg.RunRequest] = []
    seen = dict(cursor.seen)
    pending = dict(cursor.pending)
    newest = cursor.newest
    # Waiting objects first: they arrived before anything listed now.
    for key, etag in sorted(cursor.pending.items()):
        mapped = landing_day_of(key, domain)
        if mapped is None:  # only mapped objects are ever held
            del pending[key]
            continue
        entity, day = mapped
        if daily_partitions.has_partition_key(day.isoformat()):
            requests.append(_request(domain, entity, day, key, etag))
            del pending[key]
    for obj in objects:
        key, etag, modified = obj["key"], obj["etag"], obj["last_modified"]
        newest = modified if newest is None else max(newest, modified)
        if cursor.handled(key, etag):
            continue
        seen[key] = [etag, modified.isoformat()]
        mapped = landing_day_of(key, domain)
        if mapped is None or mapped[0] not in entities:
            context_log.warning(
                f"{key}: not landing/{domain}/<entity>/date=YYYY-MM-DD/<file> with an entity of "
                f"{domain} ({', '.join(entities)}): ignored"
            )
            continue
        entity, day = mapped
        if not daily_partitions.has_partition_key(day.isoformat()):
            context_log.info(f"{key}: the day {day} has not ended yet; requested once it has")
            pending[key] = etag
            continue
        pending.pop(key, None)
        requests.append(_request(domain, entity, day, key, etag))
    if newest is not None:
        horizon = newest - LOOKBACK
        seen = {
            key: value
            for key, value in seen.items()
            if dt.datetime.fromisoformat(value[1]) >= horizon
        }
    return requests, ArrivalCursor(newest, seen, pending)


def build_raw_arrival_sensor(
    spec: DomainSpec, job: dg.UnresolvedAssetJobDefinition
) -> dg.SensorDefinition:
    """The sensor launches `job` (the domain's daily job) on the arrived entity's raw asset alone:
    its runs have that job's executor (in-process: an implicit asset job would start a process per
    step) and show as the domain's runs, with the raw asset's checks selected with it."""
    domain = spec.name
    entities = [entity.name for entity in spec.raw_entities]

    @dg.sensor(
        name=f"{domain}_raw_arrivals",
        description=(
            f"An export another system drops under {landing_domain_prefix(domain)}"
            "<entity>/date=YYYY-MM-DD/ on the S3 lake: one run of that entity's raw asset for "
            "that day per object (key and ETag), which adopts the export and gates it."
        ),
        job=job,
        minimum_interval_seconds=sensor_interval_seconds(),
        # Running, like the domain's quality sensors and its nightly schedule: on an S3 lake
        # (the only place it exists) an export that arrives is meant to be landed. A tick lists
        # the domain's whole landing prefix (get_objects filters by time after listing): one
        # request per 1,000 objects, which a lifecycle rule on landing/ keeps small.
        default_status=dg.DefaultSensorStatus.RUNNING,
    )
    def _sensor(
        context: dg.SensorEvaluationContext, lake: LakeStorage
    ) -> dg.SensorResult | dg.SkipReason:
        # lazy: dagster-aws, only with an s3:// lake (resources/lake.py says why)
        from wdc_orchestration.resources.s3_lake import S3LakeStorage

        if not isinstance(lake, S3LakeStorage):
            return dg.SkipReason("the lake is not on S3: raw arrivals are adopted by any run")
        cursor = ArrivalCursor.load(context.cursor)
        since = cursor.newest - LOOKBACK if cursor.newest else None
        objects = list_arrivals(lake, landing_domain_prefix(domain), since)
        requests, updated = evaluate_arrivals(domain, entities, objects, cursor, context.log)
        for request in requests:
            context.log.info(f"{request.tags[ARRIVAL_TAG]}: run for {request.partition_key}")
        return dg.SensorResult(
            run_requests=requests,
            cursor=updated.dump(),
            skip_reason=None if requests else f"no new object among {len(objects)} listed",
        )

    return _sensor


def arrival_sensors(
    spec: DomainSpec, job: dg.UnresolvedAssetJobDefinition, lake_url: str
) -> list[dg.SensorDefinition]:
    """The domain's raw-arrival sensor, with an s3:// `lake_url` only (see the module
    docstring)."""
    if not is_s3(lake_url):
        return []
    return [build_raw_arrival_sensor(spec, job)]
