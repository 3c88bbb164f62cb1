"""The lake: where raw files land and products are exported. A local folder by default, S3 in
production; assets only ever talk to `LakeStorage`, so they do not care which."""

from __future__ import annotations

import logging
import os
import shutil
import uuid
from pathlib import Path

# The interface, for the modules that take any lake (`from ...resources.lake import LakeStorage`)
from wdc_orchestration.resources.lake_base import LakeAccessError as LakeAccessError
from wdc_orchestration.resources.lake_base import LakeKeyError as LakeKeyError
from wdc_orchestration.resources.lake_base import LakeStorage as LakeStorage
from wdc_orchestration.resources.lake_base import check_key as check_key
from wdc_orchestration.settings import Settings, is_remote

log = logging.getLogger(__name__)

# Where a local lake's files are written before they are renamed into place (never read).
INCOMING_DIR = ".incoming"


class LocalLakeStorage(LakeStorage):
    """The embedded default: a folder on this machine."""

    root: str

    def _path(self, key: str) -> Path:
        root = Path(self.root)
        path = root / check_key(key)
        # A second fence on the joined path (normalised, not resolved: a symlink inside the lake
        # is the operator's): nothing check_key let through may end outside the root.
        normal, base = os.path.normpath(path), os.path.normpath(root)
        if normal != base and not normal.startswith(base.rstrip(os.sep) + os.sep):
            raise LakeKeyError(f"lake key {key!r} leaves the lake {self.root}")
        return path

    def url(self, key: str = "") -> str:
        return str(self._path(key)) if key else self.root.rstrip("/")

    def exists(self, key: str) -> bool:
        return self._path(key).exists()

    def list_keys(self, prefix: str) -> list[str]:
        base = self._path(prefix)
        if not base.exists():
            return []
        root = Path(self.root)
        return sorted(p.relative_to(root).as_posix() for p in base.rglob("*") if p.is_file())

    def put_file(self, local_path: Path, key: str) -> None:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        # Copy into the lake's own in-flight folder, then rename into place: a rename on one
        # filesystem is atomic on POSIX. Not beside the target: a copy cut short by a killed
        # process would otherwise sit in a raw day's folder as an unexpected file.
        incoming = Path(self.root) / INCOMING_DIR
        incoming.mkdir(parents=True, exist_ok=True)
        staging = incoming / f"{uuid.uuid4().hex}-{target.name}"
        try:
            shutil.copyfile(local_path, staging)
            os.replace(staging, target)
        finally:
            staging.unlink(missing_ok=True)

    def read_bytes(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def check_access(self) -> None:
        # Only looks (a preflight writes nothing): a file where the folder, or one of its parents,
        # should be ended in a NotADirectoryError traceback from the first step that wrote.
        path = Path(self.root)
        blocker = next((p for p in (path, *path.parents) if p.exists()), None)
        if blocker is not None and not blocker.is_dir():
            raise LakeAccessError(
                f"WDC_LAKE_URL={self.root}: {blocker} is a file, not a folder; point "
                "WDC_LAKE_URL at a folder (it is created when missing)"
            )

    def move(self, key: str, new_key: str) -> None:
        source, target = self._path(key), self._path(new_key)
        if not source.exists() and target.exists():
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(source, target)


def lake_storage_from_settings(settings: Settings) -> LakeStorage:
    """`WDC_LAKE_URL` decides: a path means a local folder, `s3://bucket/prefix` means S3."""
    if not is_remote(settings.lake_url):
        return LocalLakeStorage(root=settings.lake_url)
    if not settings.lake_url.startswith("s3://"):
        raise ValueError(
            f"WDC_LAKE_URL={settings.lake_url!r}: only local paths and s3:// are supported"
        )
    # lazy: dagster-aws costs a third of a code location's import time (it pulls in dagster's
    # test utilities), and only an s3:// lake needs it (s3_lake.py imports it)
    from dagster_aws.s3 import S3Resource

    from wdc_orchestration.resources.s3_lake import S3LakeStorage  # lazy: dagster-aws, as above

    assert settings.s3 is not None  # computed for every s3:// lake (settings.py)
    bucket, _, prefix = settings.lake_url.removeprefix("s3://").partition("/")
    # Endpoint and region as DuckDB gets them (lakehouse/connection.py); credentials through boto3's
    # own chain (AWS_* variables, profile, role), which DuckDB's secret mirrors.
    return S3LakeStorage(
        bucket=bucket,
        prefix=prefix,
        s3=S3Resource(endpoint_url=settings.s3.endpoint_url, region_name=settings.s3.region),
    )


def lake_problem(settings: Settings) -> str | None:
    """Why the configured lake cannot be used, in one line; None when it can (the CLI's
    preflight: a missing bucket or bad credentials fail before any run starts)."""
    try:
        lake_storage_from_settings(settings).check_access()
    except (LakeAccessError, ValueError) as error:
        return str(error)
    return None
