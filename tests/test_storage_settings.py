"""The production settings, computed in one place (settings.py) and handed to DuckDB
(lakehouse/connection.py), dbt (its profile) and Dagster (the instance's dagster.yaml): pure
helpers, checked without running anything, plus DuckDB itself accepting what they produce."""

from __future__ import annotations

import ast
from pathlib import Path

import duckdb
import pytest
import yaml

from wdc_orchestration.lakehouse.connection import (
    DUCKLAKE_MAX_RETRY_COUNT,
    configure_duckdb,
    connection_config,
    s3_secret_sql,
)
from wdc_orchestration.lakehouse.extensions import ensure_extensions
from wdc_orchestration.mesh.workspace import INSTANCE_HEADER, dagster_home, instance_yaml
from wdc_orchestration.settings import (
    PROJECT_ROOT,
    SETTINGS_EDGES,
    S3Settings,
    SettingsError,
    environment,
    get_settings,
)

_AWS_UNSET = {
    name: ""
    for name in (
        "WDC_S3_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_S3",
        "AWS_ENDPOINT_URL",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
    )
}


def _s3(**env: str) -> S3Settings:
    with environment({**_AWS_UNSET, **env}):
        return S3Settings.from_env()


def test_a_custom_http_endpoint_means_path_style_without_ssl() -> None:
    s3 = _s3(WDC_S3_ENDPOINT_URL="http://127.0.0.1:9000/", AWS_REGION="sa-east-1")
    assert (s3.endpoint_host, s3.url_style, s3.use_ssl, s3.region) == (
        "127.0.0.1:9000",
        "path",
        False,
        "sa-east-1",
    )


def test_aws_itself_means_virtual_hosts_over_ssl() -> None:
    s3 = _s3(AWS_DEFAULT_REGION="sa-east-1")
    assert (s3.endpoint_host, s3.url_style, s3.use_ssl, s3.region) == (
        None,
        "vhost",
        True,
        "sa-east-1",
    )


def test_the_platform_endpoint_wins_over_the_aws_sdk_variables() -> None:
    assert (
        _s3(
            AWS_ENDPOINT_URL="https://b.example", WDC_S3_ENDPOINT_URL="https://a.example"
        ).endpoint_host
    ) == "a.example"
    assert _s3(AWS_ENDPOINT_URL="minio.internal:9000").endpoint_url == "https://minio.internal:9000"


def test_credentials_are_never_in_a_repr_or_the_dbt_environment() -> None:
    env = {"AWS_ACCESS_KEY_ID": "AKIAEXAMPLE", "AWS_SECRET_ACCESS_KEY": "s3cr3t-value"}
    with environment({**_AWS_UNSET, **env, "WDC_LAKE_URL": "s3://bucket/mesh"}):
        settings = get_settings()
    assert settings.s3 is not None and settings.s3.has_static_credentials
    assert "s3cr3t-value" not in repr(settings)
    assert "s3cr3t-value" not in str(settings.dbt_env())


def test_s3_settings_only_for_an_s3_lake_or_data_path(tmp_path: Path) -> None:
    with environment({"WDC_LAKE_URL": str(tmp_path), "WDC_DUCKLAKE_DATA_PATH": ""}):
        assert get_settings().s3 is None
    with environment({"WDC_LAKE_URL": str(tmp_path), "WDC_DUCKLAKE_DATA_PATH": "s3://b/data/"}):
        assert get_settings().s3 is not None


@pytest.mark.parametrize("catalog", ["sqlite:/tmp/wdc.sqlite", "postgres:dbname=wdc host=db"])
def test_dbt_runs_one_thread_on_either_catalog(catalog: str) -> None:
    # threads of one dbt-duckdb process share its DuckDB: duckdb/dbt-duckdb#748 on PostgreSQL
    with environment({"WDC_DUCKLAKE_CATALOG": catalog}):
        assert get_settings().dbt_env()["WDC_DBT_THREADS"] == "1"


def _secret(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    (text,) = con.execute(
        "select secret_string from duckdb_secrets() where name = 'wdc_lake_s3'"
    ).fetchone()
    return dict(part.split("=", 1) for part in text.split(";"))


def test_duckdb_takes_the_secret_and_every_cursor_sees_it() -> None:
    settings = get_settings()
    ensure_extensions(settings.duckdb_extension_dir)
    s3 = _s3(
        WDC_S3_ENDPOINT_URL="http://127.0.0.1:9000",
        AWS_ACCESS_KEY_ID="AKIAEXAMPLE",
        AWS_SECRET_ACCESS_KEY="s3cr3t-value",
        AWS_SESSION_TOKEN="t0ken",
    )
    with duckdb.connect(config=connection_config(settings)) as con:
        configure_duckdb(
            con,
            catalog="postgres:dbname=x host=127.0.0.1",
            s3=s3,
            temp_root=settings.duckdb_temp_dir,
        )
        cursor = con.cursor()  # what dbt-duckdb gives every node
        secret = _secret(cursor)
        retries = cursor.execute("select current_setting('ducklake_max_retry_count')").fetchone()
    assert secret["provider"] == "config" and secret["key_id"] == "AKIAEXAMPLE"
    assert (secret["endpoint"], secret["url_style"], secret["use_ssl"]) == (
        "127.0.0.1:9000",
        "path",
        "false",
    )
    assert secret["secret"] == "redacted" and "s3cr3t-value" not in str(secret)
    assert retries == (DUCKLAKE_MAX_RETRY_COUNT,)


def test_without_an_access_key_the_aws_credential_chain_provides_it(tmp_path: Path) -> None:
    """A profile file (as on a developer's machine; an instance role in production); the
    instance-metadata service is switched off so nothing leaves this machine."""
    credentials = tmp_path / "credentials"
    credentials.write_text(
        "[default]\naws_access_key_id = AKIAFROMPROFILE\naws_secret_access_key = from-file\n"
    )
    env = {
        **_AWS_UNSET,
        "AWS_SHARED_CREDENTIALS_FILE": str(credentials),
        "AWS_CONFIG_FILE": str(tmp_path / "config"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "WDC_S3_ENDPOINT_URL": "http://127.0.0.1:9000",
    }
    settings = get_settings()
    ensure_extensions(settings.duckdb_extension_dir)
    with environment(env):
        s3 = S3Settings.from_env()
        assert "PROVIDER credential_chain" in s3_secret_sql(s3)
        with duckdb.connect(config=connection_config(settings)) as con:
            configure_duckdb(con, catalog=None, s3=s3, temp_root=settings.duckdb_temp_dir)
            secret = _secret(con)
    assert (secret["provider"], secret["key_id"]) == ("credential_chain", "AKIAFROMPROFILE")


def test_the_instance_is_sqlite_by_default_and_postgres_through_env_references() -> None:
    sqlite = yaml.safe_load(instance_yaml({}))["storage"]["custom"]
    assert sqlite["class"] == "EngineReusingSqliteStorage"
    assert sqlite["config"] == {"base_dir": {"env": "DAGSTER_HOME"}}  # moves with its lake
    env = {
        "DAGSTER_PG_HOST": "db.internal",
        "DAGSTER_PG_DB": "dagster",
        "DAGSTER_PG_USERNAME": "dagster",
        "DAGSTER_PG_PASSWORD": "pg-s3cr3t",
    }
    text = instance_yaml(env)
    db = yaml.safe_load(text)["storage"]["postgres"]["postgres_db"]
    assert db["password"] == {"env": "DAGSTER_PG_PASSWORD"}
    assert db["hostname"] == {"env": "DAGSTER_PG_HOST"} and "port" not in db
    assert "pg-s3cr3t" not in text and "db.internal" not in text
    with pytest.raises(ValueError, match="DAGSTER_PG_DB"):
        instance_yaml({"DAGSTER_PG_HOST": "db.internal", "DAGSTER_PG_USERNAME": "dagster"})


def test_run_monitoring_is_every_5_s_unless_the_environment_says_otherwise() -> None:
    """The product's default is 5 s; the tests' dagster dev take 1 s (tests/conftest.py), so a
    killed run's pool slot is freed sooner for the writer queued behind it."""
    for env, seconds in (
        ({}, 5),
        ({"WDC_RUN_MONITORING_SECONDS": ""}, 5),
        ({"WDC_RUN_MONITORING_SECONDS": "1"}, 1),
    ):
        monitoring = yaml.safe_load(instance_yaml(env))["run_monitoring"]
        assert monitoring["poll_interval_seconds"] == seconds, env
        assert monitoring["free_slots_after_run_end_seconds"] == seconds, env
    for bad in ("0", "-1", "1.5", "abc"):
        with pytest.raises(SettingsError, match=f"WDC_RUN_MONITORING_SECONDS='{bad}'"):
            instance_yaml({"WDC_RUN_MONITORING_SECONDS": bad})


def test_a_readiness_check_looks_again_every_2_s_unless_the_environment_says_otherwise() -> None:
    from wdc_orchestration.mesh.resources import build_resources

    with environment({"WDC_UPSTREAM_POLL_SECONDS": ""}):
        assert get_settings().upstream_poll_seconds == 2.0
    with environment({"WDC_UPSTREAM_POLL_SECONDS": "0.5"}):
        assert build_resources()["wait"].poll_seconds == 0.5
    for bad in ("0", "-1", "nan", "inf", "abc"):
        with (
            environment({"WDC_UPSTREAM_POLL_SECONDS": bad}),
            pytest.raises(SettingsError, match=f"WDC_UPSTREAM_POLL_SECONDS='{bad}'"),
        ):
            get_settings()


def test_the_platforms_sensors_tick_every_30_s_unless_the_environment_says_otherwise() -> None:
    from wdc_orchestration.quality.sensors import build_quarantine_sensor, build_run_failure_sensor

    for value, seconds in (("", 30), ("5", 5)):
        with environment({"WDC_SENSOR_INTERVAL_SECONDS": value}):
            for sensor in (build_quarantine_sensor("sales"), build_run_failure_sensor("sales")):
                assert sensor.minimum_interval_seconds == seconds, (value, sensor.name)
    for bad in ("0", "2.5", "abc"):
        with (
            environment({"WDC_SENSOR_INTERVAL_SECONDS": bad}),
            pytest.raises(SettingsError, match=f"WDC_SENSOR_INTERVAL_SECONDS='{bad}'"),
        ):
            build_quarantine_sensor("sales")


def test_wdc_rewrites_its_own_instance_file_and_leaves_an_operators_alone(tmp_path: Path) -> None:
    home = tmp_path / "home"
    pg = {"DAGSTER_PG_HOST": "h", "DAGSTER_PG_DB": "d", "DAGSTER_PG_USERNAME": "u"}
    with environment({"DAGSTER_HOME": str(home), **{k: "" for k in pg}}):
        config = dagster_home() / "dagster.yaml"
        written = config.read_text()
    assert written.startswith(INSTANCE_HEADER) and "postgres" not in written
    assert "EngineReusingSqliteStorage" in written
    with environment({"DAGSTER_HOME": str(home), **pg}):
        dagster_home()
        assert "postgres_db" in config.read_text()
        config.write_text("# mine\ntelemetry:\n  enabled: false\n")
        dagster_home()
    assert config.read_text() == "# mine\ntelemetry:\n  enabled: false\n"


def _modules_calling(function: str) -> set[str]:
    """The platform's modules (wdc_orchestration, domains, wdc_portal) that call `function`."""
    callers = set()
    for package in ("wdc_orchestration", "domains", "wdc_portal"):
        for path in (PROJECT_ROOT / package).rglob("*.py"):
            tree = ast.parse(path.read_text(), filename=str(path))
            for node in ast.walk(tree):
                if not isinstance(node, ast.Call):
                    continue
                name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
                if name == function:
                    module = path.relative_to(PROJECT_ROOT).with_suffix("").parts
                    callers.add(".".join(module[:-1] if module[-1] == "__init__" else module))
    return callers


def test_the_settings_are_read_at_the_declared_edges_only() -> None:
    """One configuration path (issue 22): get_settings() is called by the edges settings.py
    declares (CLI entry points, the definitions and their resources, the dbt-duckdb plugins,
    the portal's start); everything else is handed its settings or reads its resource."""
    assert _modules_calling("get_settings") == SETTINGS_EDGES
