"""A permanent S3 failure (a missing bucket, credentials the server rejects) fails fast, in one
line naming the bucket and the setting to fix: at the CLI before any run starts, and inside a run
at the first step that touches the lake (no later step starts). Against a real S3 API server
that checks signatures (tests/infra.py)."""

from __future__ import annotations

import logging
from pathlib import Path

import dagster as dg
import pytest

from tests.conftest import DAY_1, MeshLake
from tests.infra import S3Server
from wdc_orchestration.settings import environment

BUCKET = "wdc-access-errors"


def _s3_env(root: Path, s3: S3Server, lake_url: str, **overrides: str) -> dict[str, str]:
    return {
        "WDC_LAKE_URL": lake_url,
        "WDC_DUCKLAKE_DATA_PATH": "",
        "WDC_DUCKLAKE_CATALOG": f"sqlite:{root / 'catalog.sqlite'}",
        "WDC_S3_ENDPOINT_URL": s3.endpoint_url,
        **s3.credentials,
        "WDC_PSEUDONYMISATION_KEY": "a-test-key-for-the-access-error-tests-0123456789",
        "DAGSTER_HOME": str(root / "dagster_home"),
        "WDC_DBT_THREADS": "",
        **overrides,
    }


CASES = {
    # case -> (lake URL, environment overrides, what the message must name)
    "missing bucket": (
        "s3://wdc-no-such-bucket/mesh",
        {},
        ["wdc-no-such-bucket", "NoSuchBucket", "WDC_LAKE_URL"],
    ),
    "unknown access key": (
        f"s3://{BUCKET}/mesh",
        {"AWS_ACCESS_KEY_ID": "AKIAUNKNOWNKEY000000"},
        [BUCKET, "InvalidAccessKeyId", "AWS_ACCESS_KEY_ID"],
    ),
    "wrong secret key": (
        f"s3://{BUCKET}/mesh",
        {"AWS_SECRET_ACCESS_KEY": "not-the-secret-of-this-key"},
        [BUCKET, "SignatureDoesNotMatch", "AWS_SECRET_ACCESS_KEY"],
    ),
}


@pytest.fixture(scope="module")
def bucket(s3: S3Server) -> str:
    return s3.create_bucket(BUCKET)


@pytest.mark.parametrize("case", CASES)
def test_the_cli_refuses_to_start_and_says_what_to_fix(
    test_lake: MeshLake,
    s3: S3Server,
    bucket: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    case: str,
) -> None:
    from wdc_orchestration.cli import main

    lake_url, overrides, names = CASES[case]
    with (
        environment(_s3_env(tmp_path, s3, lake_url, **overrides)),
        caplog.at_level(logging.ERROR),
    ):
        code = main(["materialize", "--start", DAY_1, "--log-level", "WARNING"])
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert code == 2
    assert len(errors) == 1 and "\n" not in errors[0], errors
    assert all(name in errors[0] for name in names), errors[0]
    assert not (tmp_path / "dagster_home").exists()  # no instance, no run: nothing started


def test_a_run_fails_at_its_first_lake_step_naming_bucket_and_setting(
    test_lake: MeshLake, s3: S3Server, bucket: str, tmp_path: Path
) -> None:
    """Without the CLI's preflight (a schedule's run, say): the raw landing steps fail with the
    one-line error, not retryable, and no dbt, check or publishing step runs after them."""
    from wdc_orchestration.mesh.workspace import MESH_JOB, mesh_definitions

    lake_url, overrides, names = CASES["missing bucket"]
    with environment(_s3_env(tmp_path, s3, lake_url, **overrides)):
        job = mesh_definitions(["catalog"]).resolve_job_def(MESH_JOB)
        with dg.instance_for_test() as instance:
            result = job.execute_in_process(
                partition_key=DAY_1, instance=instance, raise_on_error=False
            )
    assert not result.success
    failures = result.get_step_failure_events()
    # every step of the catalog domain that ran was a raw landing, and each failed
    started = {e.step_key for e in result.all_events if e.event_type_value == "STEP_START"}
    failed = {e.step_key for e in failures}
    assert failed and started == failed and all("raw" in key for key in failed), started
    assert result.get_asset_materialization_events() == []
    for event in failures:
        data = event.step_failure_data
        assert data.user_failure_data is not None  # a dg.Failure: description, no retry
        description = data.user_failure_data.description or ""
        assert "\n" not in description and all(n in description for n in names), description
