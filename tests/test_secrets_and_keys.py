"""Keys and secrets: the public development pseudonymisation key is refused whenever any part of
the storage is remote (each part alone) or WDC_ENV=production; secrets in connection strings are
masked wherever they are shown (the portal's snippet, the Dagster lakehouse resource); the
portal's S3 reader gets the platform's S3 secret, credential chain included."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator

import duckdb
import pytest

from wdc_orchestration.governance.descriptor import load_descriptors
from wdc_orchestration.governance.pseudonymisation import (
    DEVELOPMENT_KEY,
    KEY_VARIABLE,
    PseudonymisationKeyError,
    pseudonymisation_key,
)
from wdc_orchestration.lakehouse.connection import configure_s3
from wdc_orchestration.lakehouse.extensions import ensure_extensions
from wdc_orchestration.resources.lakehouse import lakehouse_from_settings
from wdc_orchestration.settings import (
    MASK,
    S3Settings,
    environment,
    get_settings,
    mask_secrets,
    remote_storage_parts,
)
from wdc_portal.data.products import ducklake_snippet

STORAGE = ("WDC_LAKE_URL", "WDC_DUCKLAKE_DATA_PATH", "WDC_DUCKLAKE_CATALOG", "WDC_ENV")
SECRET_KEY = "a-real-secret-key-of-more-than-32-characters-0123"

# Each part alone remote (the others local), as the issue found the gap: a local lake path with
# an s3:// data path or a PostgreSQL catalog used the public key.
REMOTE_PARTS = {
    "lake": {"WDC_LAKE_URL": "s3://wdc-lake/mesh"},
    "data path": {"WDC_DUCKLAKE_DATA_PATH": "s3://wdc-lake/mesh/lakehouse/"},
    "catalog": {"WDC_DUCKLAKE_CATALOG": "postgres:dbname=wdc host=db.internal"},
    "production": {"WDC_ENV": "production"},
}


@pytest.fixture
def local_storage(tmp_path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Everything on this machine, no key set."""
    for name in (*STORAGE, KEY_VARIABLE):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WDC_LAKE_URL", str(tmp_path / "lake"))
    monkeypatch.setenv("WDC_DUCKLAKE_CATALOG", f"sqlite:{tmp_path / 'catalog.sqlite'}")
    yield


def test_everything_local_falls_back_to_the_development_key(local_storage: None) -> None:
    assert remote_storage_parts() == []
    assert pseudonymisation_key() == DEVELOPMENT_KEY.encode()


@pytest.mark.parametrize("part", sorted(REMOTE_PARTS))
def test_the_development_key_is_refused_when_one_part_is_remote(
    local_storage: None, part: str
) -> None:
    with environment(REMOTE_PARTS[part]):
        with pytest.raises(PseudonymisationKeyError, match=KEY_VARIABLE) as refused:
            pseudonymisation_key()
        named = next(iter(REMOTE_PARTS[part]))
        assert named in str(refused.value)
        # a real key of its own is taken
        with environment({KEY_VARIABLE: SECRET_KEY}):
            assert pseudonymisation_key() == SECRET_KEY.encode()


def test_production_refuses_the_public_key_even_when_set_explicitly(local_storage: None) -> None:
    with (
        environment({"WDC_ENV": "production", KEY_VARIABLE: DEVELOPMENT_KEY}),
        pytest.raises(PseudonymisationKeyError, match="public development key"),
    ):
        pseudonymisation_key()


def test_the_public_key_set_explicitly_on_remote_storage_is_a_warning_outside_production(
    local_storage: None, caplog: pytest.LogCaptureFixture
) -> None:
    """What tests/test_production_storage.py does to compare a remote run with an embedded one."""
    with (
        environment({**REMOTE_PARTS["catalog"], KEY_VARIABLE: DEVELOPMENT_KEY}),
        caplog.at_level(logging.WARNING),
    ):
        assert pseudonymisation_key() == DEVELOPMENT_KEY.encode()


def test_a_key_kept_in_dot_env_is_the_key(
    local_storage: None, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`.env` holds the key (.env.example's way): read even when nothing else read .env yet."""
    import wdc_orchestration.settings as settings

    (tmp_path / ".env").write_text(f"{KEY_VARIABLE}={SECRET_KEY}\n")
    monkeypatch.setattr(settings, "PROJECT_ROOT", tmp_path)
    monkeypatch.delenv(KEY_VARIABLE, raising=False)
    # .env is read once per process, like a fresh `wdc` command's first setting: forget the read
    # an earlier test made (and this one, afterwards)
    settings.load_dotenv_once.cache_clear()
    try:
        assert pseudonymisation_key() == SECRET_KEY.encode()
    finally:
        settings.load_dotenv_once.cache_clear()


def test_a_short_key_is_refused(local_storage: None) -> None:
    with (
        environment({KEY_VARIABLE: "short"}),
        pytest.raises(PseudonymisationKeyError, match="at least"),
    ):
        pseudonymisation_key()


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("postgres:dbname=wdc host=db password=s3cret port=5432",
         f"postgres:dbname=wdc host=db password={MASK} port=5432"),
        ("postgres:password='with space' host=db", f"postgres:password={MASK} host=db"),
        ("postgres:host=db PASSWORD = s3cret", f"postgres:host=db PASSWORD = {MASK}"),
        ("postgresql://wdc:s3cret@db/wdc", f"postgresql://wdc:{MASK}@db/wdc"),
        ("CREATE SECRET s (KEY_ID 'AKIA', SECRET 'xyz')",
         f"CREATE SECRET s (KEY_ID '{MASK}', SECRET '{MASK}')"),
        ("sqlite:/data/catalog/wdc.sqlite", "sqlite:/data/catalog/wdc.sqlite"),
        ("SELECT primary_key FROM t WHERE key_id = 1",
         "SELECT primary_key FROM t WHERE key_id = 1"),
    ],
)  # fmt: skip
def test_mask_secrets(text: str, masked: str) -> None:
    assert mask_secrets(text) == masked
    assert "s3cret" not in mask_secrets(text)


def test_the_portal_snippet_never_shows_the_catalog_password() -> None:
    revenue = load_descriptors()["finance.fct_daily_revenue"]
    snippet = ducklake_snippet(revenue, "postgres:dbname=wdc password=s3cret", "s3://b/lh/")
    assert "s3cret" not in snippet
    assert f"ATTACH 'ducklake:postgres:dbname=wdc password={MASK}'" in snippet


def test_the_lakehouse_resource_shows_the_catalog_masked_and_connects_with_the_real_one(
    local_storage: None,
) -> None:
    catalog = "postgres:dbname=wdc host=db.internal password=s3cret"
    with environment({"WDC_DUCKLAKE_CATALOG": catalog}):
        resource = lakehouse_from_settings(get_settings())
        # the field is what the Dagster UI and the run config show
        assert "s3cret" not in repr(resource) and "s3cret" not in str(resource.model_dump())
        assert resource.ducklake_catalog == f"postgres:dbname=wdc host=db.internal password={MASK}"
        assert resource.catalog() == catalog
    with (
        environment({"WDC_DUCKLAKE_CATALOG": "postgres:dbname=other password=x"}),
        pytest.raises(ValueError, match="masked"),
    ):
        resource.catalog()


def _unreachable_catalog() -> str:
    """A PostgreSQL catalog with a password on a port nothing listens on (refused at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"postgres:dbname=wdc host=127.0.0.1 port={port} user=wdc password=s3cret"


def test_a_catalog_that_cannot_be_attached_fails_without_its_password(
    local_storage: None,
) -> None:
    """DuckDB's error repeats the whole connection string: what a step's failure in the Dagster
    UI, the portal's pages (a KPI that cannot be computed) and `wdc doctor` showed."""
    from wdc_orchestration.governance.product_reader import products_connection
    from wdc_orchestration.ops.doctor.services import check_catalog

    with environment({"WDC_DUCKLAKE_CATALOG": _unreachable_catalog()}):
        settings = get_settings()
        finding = check_catalog(settings)
        assert finding.failed and "s3cret" not in finding.detail, finding.detail
        assert f"password={MASK}" in finding.detail and "Connection refused" in finding.detail
        for connect in (
            lambda: products_connection(settings, []),
            lambda: lakehouse_from_settings(settings).get_connection().__enter__(),
        ):
            with pytest.raises(duckdb.Error) as failed:
                connect()
            assert "s3cret" not in str(failed.value) and f"password={MASK}" in str(failed.value)
            # nothing chained to it holds the original message either
            assert failed.value.__context__ is None and failed.value.__cause__ is None


def test_the_platform_s3_secret_uses_the_credential_chain_without_static_keys(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    """The secret the portal's reader now gets (configure_s3, as dbt's DuckDB): without
    AWS_ACCESS_KEY_ID the AWS credential chain (here a profile file; SSO and roles alike), not
    an anonymous reader."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    profile = tmp_path / "credentials"
    profile.write_text("[default]\naws_access_key_id = CHAINKEY\naws_secret_access_key = x\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(profile))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("WDC_S3_ENDPOINT_URL", "http://127.0.0.1:9")
    extensions = ensure_extensions(get_settings().duckdb_extension_dir)
    conn = duckdb.connect(config={"extension_directory": str(extensions)})
    configure_s3(conn, S3Settings.from_env())
    provider, secret_type = conn.execute(
        "SELECT provider, type FROM duckdb_secrets() WHERE name = 'wdc_lake_s3'"
    ).fetchone()
    assert (provider, secret_type) == ("credential_chain", "s3")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIATEST")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s3cret")
    configure_s3(conn, S3Settings.from_env())
    provider, shown = conn.execute(
        "SELECT provider, secret_string FROM duckdb_secrets() WHERE name = 'wdc_lake_s3'"
    ).fetchone()
    assert provider == "config" and "s3cret" not in shown
