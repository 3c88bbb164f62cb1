"""The production lake on S3 (or any S3 API), through dagster-aws. Its own module so that a local
lake never imports dagster-aws (see `lake_storage_from_settings`)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from boto3.exceptions import S3UploadFailedError
from botocore.exceptions import ClientError, NoCredentialsError
from dagster_aws.s3 import S3Resource
from pydantic import PrivateAttr

from wdc_orchestration.resources.lake_base import LakeAccessError, LakeStorage, check_key

# S3 error codes that no retry can cure: a setting is wrong. -> what to fix
_CREDENTIALS = "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (or the AWS profile or role)"
_PERMANENT: dict[str, str] = {
    "NoSuchBucket": "the bucket does not exist: create it, or fix WDC_LAKE_URL",
    "InvalidAccessKeyId": f"the access key is unknown to the server: fix {_CREDENTIALS}",
    "SignatureDoesNotMatch": "the secret key does not match the access key: fix "
    "AWS_SECRET_ACCESS_KEY",
    "InvalidToken": "the session token is invalid: fix AWS_SESSION_TOKEN",
    "ExpiredToken": "the session token has expired: renew AWS_SESSION_TOKEN",
    "AccessDenied": f"access denied: give {_CREDENTIALS} read/write on the bucket, or fix "
    "WDC_LAKE_URL",
    "AllAccessDisabled": "access to the bucket is disabled: fix WDC_LAKE_URL",
}


class S3LakeStorage(LakeStorage):
    """Production: a bucket (and prefix) on S3 or any S3 API, through dagster-aws."""

    bucket: str
    prefix: str = ""
    s3: S3Resource
    _client: Any = PrivateAttr(default=None)
    _client_lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    def client(self) -> Any:
        """One boto3 client per storage object (thread-safe once made): S3Resource.get_client()
        builds a new session and client on every call, ≈0.2-0.3 s each, and a day of the mesh
        makes ~150 lake calls."""
        with self._client_lock:
            if self._client is None:
                self._client = self.s3.get_client()
            return self._client

    def _key(self, key: str) -> str:
        return "/".join(part for part in (self.prefix.strip("/"), check_key(key)) if part)

    def _listing_prefix(self, key: str) -> str:
        """What to list for `key`: the lake's root is its prefix *folder* (`mesh/`), else a listing
        of `mesh` would take in a sibling lake's `mesh-staging/...` too."""
        listed = self._key(key)
        return listed + "/" if listed and not check_key(key).strip("/") else listed

    def url(self, key: str = "") -> str:
        return f"s3://{self.bucket}/{self._key(key)}".rstrip("/")

    @contextmanager
    def _permanent_errors(self) -> Iterator[None]:
        """A misconfiguration becomes a one-line `LakeAccessError` naming the bucket and the
        setting; anything else (timeouts, 5xx, a server that is down) stays retryable."""
        try:
            yield
        except NoCredentialsError as error:
            raise LakeAccessError(
                f"S3 lake {self.url()}: no credentials found: set {_CREDENTIALS}"
            ) from error
        except (ClientError, S3UploadFailedError) as error:
            # upload_file reports a ClientError as S3UploadFailedError raised while handling it
            cause = error if isinstance(error, ClientError) else error.__context__
            code = (
                cause.response.get("Error", {}).get("Code", "")
                if isinstance(cause, ClientError)
                else ""
            )
            if code not in _PERMANENT:
                raise
            endpoint = self.s3.endpoint_url or f"AWS S3 ({self.s3.region_name or 'default'})"
            raise LakeAccessError(
                f"S3 lake {self.url()} (bucket '{self.bucket}' at {endpoint}): {code}: "
                f"{_PERMANENT[code]}"
            ) from error

    def check_access(self) -> None:
        with self._permanent_errors():
            self.client().list_objects_v2(Bucket=self.bucket, Prefix=self._key(""), MaxKeys=1)

    def exists(self, key: str) -> bool:
        client = self.client()
        with self._permanent_errors():
            response = client.list_objects_v2(
                Bucket=self.bucket, Prefix=self._listing_prefix(key), MaxKeys=1
            )
        return response.get("KeyCount", 0) > 0

    def list_keys(self, prefix: str) -> list[str]:
        client = self.client()
        strip = len(self._key("")) + 1 if self.prefix.strip("/") else 0
        keys: list[str] = []
        with self._permanent_errors():
            for page in client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self._listing_prefix(prefix)
            ):
                keys.extend(obj["Key"][strip:] for obj in page.get("Contents", []))
        return sorted(keys)

    def put_file(self, local_path: Path, key: str) -> None:
        # An S3 PUT is atomic per object: readers never see a partial upload.
        with self._permanent_errors():
            self.client().upload_file(str(local_path), self.bucket, self._key(key))

    def read_bytes(self, key: str) -> bytes:
        with self._permanent_errors():
            obj = self.client().get_object(Bucket=self.bucket, Key=self._key(key))
            return obj["Body"].read()

    def move(self, key: str, new_key: str) -> None:
        # S3 has no rename: copy, then delete the original only once the copy exists.
        if not self.exists(key) and self.exists(new_key):
            return
        client = self.client()
        source = {"Bucket": self.bucket, "Key": self._key(key)}
        with self._permanent_errors():
            client.copy_object(Bucket=self.bucket, Key=self._key(new_key), CopySource=source)
            client.head_object(Bucket=self.bucket, Key=self._key(new_key))
            client.delete_object(Bucket=self.bucket, Key=self._key(key))
