"""The lake's interface: what every lake storage implements (a folder, lake.py; S3, s3_lake.py)
and the keys it accepts. Its own module so that the S3 storage builds on it without importing the
factory (lake.py), which imports the S3 storage only for an s3:// lake."""

from __future__ import annotations

import logging
import re
from abc import ABC, abstractmethod
from pathlib import Path

import dagster as dg

log = logging.getLogger(__name__)


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
