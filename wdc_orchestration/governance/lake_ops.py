"""Deleting keys on the lake, for the two jobs that must (retiring a deprecated major, purging
raw personal data past its retention). LakeStorage is deliberately append-only; this stays
in governance, where every deletion is logged."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from pathlib import Path

from wdc_orchestration.resources.lake import LakeStorage, LocalLakeStorage

log = logging.getLogger(__name__)


def delete_keys(lake: LakeStorage, keys: Iterable[str]) -> list[str]:
    """Delete `keys` (files) from the lake; returns what was removed, each logged."""
    keys = sorted(keys)
    if not keys:
        return []
    if isinstance(lake, LocalLakeStorage):
        _delete_local(lake, keys)
    else:
        _delete_s3(lake, keys)
    return keys


def _delete_local(lake: LocalLakeStorage, keys: list[str]) -> None:
    for key in keys:
        path = Path(lake.url(key))
        path.unlink(missing_ok=True)
        log.info("removed %s", lake.url(key))
        # leave no empty date=/snapshot folders behind
        for parent in path.parents:
            if parent == Path(lake.url()) or not parent.exists() or any(parent.iterdir()):
                break
            os.rmdir(parent)


def _delete_s3(lake: LakeStorage, keys: list[str]) -> None:
    # Imported here: only an s3:// lake needs dagster-aws (resources/lake.py says why).
    from wdc_orchestration.resources.s3_lake import S3LakeStorage

    if not isinstance(lake, S3LakeStorage):
        raise TypeError(f"cannot delete from {type(lake).__name__}")
    client = lake.s3.get_client()
    bucket_prefix = f"s3://{lake.bucket}/"
    for start in range(0, len(keys), 1000):  # S3 DeleteObjects takes 1000 keys at most
        batch = keys[start : start + 1000]
        client.delete_objects(
            Bucket=lake.bucket,
            Delete={"Objects": [{"Key": lake.url(k).removeprefix(bucket_prefix)} for k in batch]},
        )
        for key in batch:
            log.info("removed %s", lake.url(key))
