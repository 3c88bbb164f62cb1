"""S3 access policies for production, generated from the products' consumer lists (DuckDB has no
roles: on S3 the bucket policy is the access control). One IAM policy document per domain role:
read/write its own raw data, lakehouse tables and product ports; read the products that list it
as a consumer (file port, and the SQL port's data files); nothing else."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from wdc_orchestration.governance.descriptor import ProductDescriptor


def _full(prefix: str, key: str) -> str:
    """`key` under the lake's prefix in the bucket, keeping its trailing `/` (so `raw/sales/`
    does not also match `raw/sales_archive/`)."""
    return f"{prefix.strip('/')}/{key}" if prefix.strip("/") else key


def _arn(bucket: str, prefix: str, key: str) -> str:
    return f"arn:aws:s3:::{bucket}/{_full(prefix, key)}"


def domain_policy(
    domain: str,
    descriptors: Mapping[str, ProductDescriptor],
    bucket: str,
    prefix: str = "",
) -> dict[str, Any]:
    own = [f"raw/{domain}/", f"products/{domain}/", f"lakehouse/{domain}/"]
    consumed = sorted(
        (d for d in descriptors.values() if domain in d.consumers and d.domain != domain),
        key=lambda d: d.id,
    )
    # Every published major of the file port (a consumer migrates during the deprecation window),
    # and the SQL port's data files: DuckLake writes `<schema>/<table>/`, and dbt's rebuild of a
    # table leaves its files under `<table>__dbt_tmp/`.
    readable = [
        prefix
        for d in consumed
        for prefix in (
            f"products/{d.domain}/{d.name}/",
            f"lakehouse/{d.domain}/{d.name}/",
            f"lakehouse/{d.domain}/{d.name}__dbt_tmp/",
        )
    ]
    statements: list[dict[str, Any]] = [
        {
            "Sid": "OwnDataReadWrite",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
            "Resource": [_arn(bucket, prefix, p) + "*" for p in own],
        },
        {
            "Sid": "ListOwnAndConsumedPrefixes",
            "Effect": "Allow",
            "Action": ["s3:ListBucket"],
            "Resource": f"arn:aws:s3:::{bucket}",
            "Condition": {
                "StringLike": {"s3:prefix": [_full(prefix, p) + "*" for p in own + readable]}
            },
        },
    ]
    if readable:
        statements.insert(
            1,
            {
                "Sid": "ConsumedProductsRead",
                "Effect": "Allow",
                "Action": ["s3:GetObject"],
                "Resource": [_arn(bucket, prefix, p) + "*" for p in readable],
            },
        )
    return {"Version": "2012-10-17", "Statement": statements}


def all_policies(
    domains: Iterable[str], descriptors: Mapping[str, ProductDescriptor], bucket: str, prefix: str
) -> dict[str, dict[str, Any]]:
    return {
        domain: domain_policy(domain, descriptors, bucket, prefix) for domain in sorted(domains)
    }


def write_policies(policies: Mapping[str, dict[str, Any]], folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for domain, policy in policies.items():
        path = folder / f"wdc-{domain}-role.json"
        path.write_text(json.dumps(policy, indent=2) + "\n")
        written.append(path)
    return written
