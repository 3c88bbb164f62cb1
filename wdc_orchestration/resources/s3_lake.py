"""The production lake on S3 (or any S3 API), through dagster-aws. Its own module so that a local
lake never imports dagster-aws (see `lake_storage_from_settings`)."""

from __future__ import annotations

from pathlib import Path

from dagster_aws.s3 import S3Resource

from wdc_orchestration.resources.lake import LakeStorage


class S3LakeStorage(LakeStorage):
    """Production: a bucket (and prefix) on S3 or any S3 API, through dagster-aws."""

    bucket: str
    prefix: str = ""
    s3: S3Resource

    def _key(self, key: str) -> str:
        return "/".join(part for part in (self.prefix.strip("/"), key) if part)

    def url(self, key: str = "") -> str:
        return f"s3://{self.bucket}/{self._key(key)}".rstrip("/")

    def exists(self, key: str) -> bool:
        client = self.s3.get_client()
        response = client.list_objects_v2(Bucket=self.bucket, Prefix=self._key(key), MaxKeys=1)
        return response.get("KeyCount", 0) > 0

    def list_keys(self, prefix: str) -> list[str]:
        client = self.s3.get_client()
        strip = len(self._key("")) + 1 if self.prefix.strip("/") else 0
        keys: list[str] = []
        for page in client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self._key(prefix)
        ):
            keys.extend(obj["Key"][strip:] for obj in page.get("Contents", []))
        return sorted(keys)

    def put_file(self, local_path: Path, key: str) -> None:
        # An S3 PUT is atomic per object: readers never see a partial upload.
        self.s3.get_client().upload_file(str(local_path), self.bucket, self._key(key))

    def read_bytes(self, key: str) -> bytes:
        obj = self.s3.get_client().get_object(Bucket=self.bucket, Key=self._key(key))
        return obj["Body"].read()

    def move(self, key: str, new_key: str) -> None:
        # S3 has no rename: copy, then delete the original only once the copy exists.
        if not self.exists(key) and self.exists(new_key):
            return
        client = self.s3.get_client()
        source = {"Bucket": self.bucket, "Key": self._key(key)}
        client.copy_object(Bucket=self.bucket, Key=self._key(new_key), CopySource=source)
        client.head_object(Bucket=self.bucket, Key=self._key(new_key))
        client.delete_object(Bucket=self.bucket, Key=self._key(key))
