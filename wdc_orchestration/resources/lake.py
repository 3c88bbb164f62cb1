"""The lake: where raw files land and products are exported. A local folder by default, S3 in
production; assets only ever talk to `LakeStorage`, so they do not care which."""

from __future__ import annotations

import logging
import os
import re
import shutil
import uuid
from abc import ABC, abstractmethod
from pathlib import Path

import dagster as dg

from wdc_orchestration.settings import Settings, is_remote

log = logging.getLogger(__name__)

# Where a local lake's files are written before they are renamed into place (never read).
INCOMING_DIR = ".incoming"


class LakeAccessError(dg.Failure):
    """The lake cannot be used as configured (a missing bucket, rejected credentials): a setting
    must change, so retrying is pointless. Its message is one line naming what to fix."""

    def __init__(self, message: str) -> None:
        super().__init__(description=message, allow_retries=False)
        self.message = message

    def __str__(self) -> str:
        return self.message


class LakeKeyError(ValueError):
    """A key that would leave the lake: absolute, with a `..` segment, a backslash, a NUL or a
    URL. Refused by every storage for every caller, so no id or name reaching a key (an access
    request's id, a product's name) can write or read outside the lake."""


def check_key(key: str) -> str:
    """`key` when it stays inside the lake, else `LakeKeyError`. Keys are `/`-separated and
    relative; an empty key is the lake's root and a trailing `/` a prefix."""
    if not isinstance(key, str):
        raise LakeKeyError(f"lake key {key!r} is not text")
    if "\x00" in key or "\\" in key:
        raise LakeKeyError(f"lake key {key!r}: NULs and backslashes are not allowed")
    if key.startswith("/") or "://" in key or re.match(r"^[A-Za-z]:", key):
        raise LakeKeyError(f"lake key {key!r} is absolute: keys are relative to the lake")
    if any(part == ".." for part in key.split("/")):
        raise LakeKeyError(f"lake key {key!r} leaves the lake (a '..' segment)")
    return key


class LakeStorage(dg.ConfigurableResource, ABC):
    """Key-addressed object storage; keys are `/`-separated paths relative to the lake root."""

    @abstractmethod
    def url(self, key: str = "") -> str:
        """The URL DuckDB/dbt read the key at (a local path, or s3://bucket/prefix/key)."""

    @abstractmethod
    def exists(self, key: str) -> bool: ...

    @abstractmethod
    def list_keys(self, prefix: str) -> list[str]:
        """Every key under `prefix`, sorted."""

    @abstractmethod
    def put_file(self, local_path: Path, key: str) -> None:
        """Publish a finished local file at `key`; readers see the old object or the new one."""

    @abstractmethod
    def read_bytes(self, key: str) -> bytes: ...

    @abstractmethod
    def move(self, key: str, new_key: str) -> None:
        """Move one object to `new_key` (quarantine): never a delete of data that is kept nowhere
        else; a missing `key` whose `new_key` exists is taken as already moved."""

    def check_access(self) -> None:
        """Raise `LakeAccessError` when the lake cannot be listed as configured (a preflight)."""

    def put_bytes(self, data: bytes, key: str, scratch_dir: Path) -> None:
        check_key(key)
        scratch_dir.mkdir(parents=True, exist_ok=True)
        tmp = scratch_dir / (Path(key).name + ".tmp")
        tmp.write_bytes(data)
        self.put_file(tmp, key)


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
    # Imported here: dagster-aws costs a third of a code location's import time (it pulls in
    # dagster's test utilities), and only an s3:// lake needs it.
    from dagster_aws.s3 import S3Resource

    from wdc_orchestration.resources.s3_lake import S3LakeStorage

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
