"""`wdc doctor` on a healthy environment and on broken ones: each item one line, OK or the fix,
exit 1 when anything failed, and nothing repaired unless asked (`--fix`, which says what it did)."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from moto.server import ThreadedMotoServer

from tests.conftest import MeshLake
from wdc_orchestration.cli import main
from wdc_orchestration.lakehouse.extensions import EXTENSION_PACKAGES
from wdc_orchestration.settings import isolated_lake_env

ITEMS = [
    "DuckDB extensions",
    "lake writable",
    "DuckLake catalog",
    "S3",
    "Postgres",
    "Dagster home",
    "log folder",
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def doctor(capsys: pytest.CaptureFixture, *args: str) -> tuple[int, dict[str, tuple[str, str]]]:
    """Exit code, and item -> (status, detail) from the one-line-per-item output."""
    port = args[args.index("--port") + 1] if "--port" in args else str(_free_port())
    code = main(["doctor", "--port", port, *[a for a in args if a not in ("--port", port)]])
    lines = capsys.readouterr().out.splitlines()
    findings = {}
    for line in lines:
        if line.startswith(("fixed:", "ready:")):
            findings[line.split(":")[0]] = ("", line)
            continue
        status, rest = line.split(maxsplit=1)
        item = next(i for i in [*ITEMS, f"port {port}"] if rest.startswith(i))
        findings[item] = (status, rest.removeprefix(item).strip())
    return code, findings


def test_a_healthy_environment_is_all_ok(two_days: MeshLake, capsys: pytest.CaptureFixture) -> None:
    code, findings = doctor(capsys)
    assert code == 0, findings
    assert [item for item in findings if not item.startswith(("port", "ready"))] == ITEMS
    assert {status for item, (status, _) in findings.items() if item != "ready"} <= {"OK", "SKIP"}
    assert findings["ready"][1].startswith("ready: this environment can run the platform")
    assert findings["S3"][0] == findings["Postgres"][0] == "SKIP"  # not configured here
    tables = two_days.scalar(
        "select count(*) from duckdb_tables() where database_name = 'lakehouse'"
    )
    assert findings["DuckLake catalog"] == (
        "OK",
        f"sqlite:{two_days.root / 'catalog' / 'wdc.sqlite'}: attached read-only, {tables} tables",
    )


def test_a_fresh_clone_is_ready_and_nothing_is_installed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    """No lake, no catalog, no extension folder yet: the first run creates them all (the
    extensions from their PyPI packages), so none of it is a problem."""
    for name, value in isolated_lake_env(tmp_path).items():
        monkeypatch.setenv(name, value)
    extensions = tmp_path / "extensions"
    monkeypatch.setenv("WDC_DUCKDB_EXTENSION_DIR", str(extensions))
    code, findings = doctor(capsys)
    assert code == 0, findings
    assert {status for status, _ in findings.values() if status} <= {"OK", "SKIP"}
    assert findings["DuckDB extensions"] == (
        "OK",
        f"{', '.join(EXTENSION_PACKAGES)} not in {extensions} yet: installed from their PyPI "
        "packages on first use (no download; `wdc doctor --fix` installs them now)",
    )
    assert findings["ready"][1].startswith("ready: this environment can run the platform")
    assert not extensions.exists(), "doctor installed the extensions without being asked"
    assert not (tmp_path / "lake").exists() and not (tmp_path / "catalog").exists()


def test_missing_extensions_attach_the_catalog_and_fix_installs_them(
    two_days: MeshLake,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
) -> None:
    extensions = tmp_path / "extensions"
    extensions.mkdir()
    monkeypatch.setenv("WDC_DUCKDB_EXTENSION_DIR", str(extensions))
    code, findings = doctor(capsys)
    assert code == 0, findings
    assert findings["DuckDB extensions"][0] == "OK"
    assert "installed from their PyPI packages on first use" in findings["DuckDB extensions"][1]
    assert findings["DuckLake catalog"][0] == "OK"  # loaded from the packages meanwhile
    assert list(extensions.iterdir()) == [], "doctor repaired the extensions without being asked"

    code, findings = doctor(capsys, "--fix")
    assert code == 0, findings
    names = ", ".join(EXTENSION_PACKAGES)
    assert findings["fixed"][1].startswith(
        f"fixed: installed the DuckDB extension(s) {names} into {extensions}"
    )
    assert findings["DuckDB extensions"] == ("OK", f"{names} load from {extensions}")
    assert len(list(extensions.rglob("*.duckdb_extension"))) == len(EXTENSION_PACKAGES)


def test_an_extension_whose_package_is_missing_fails(
    two_days: MeshLake,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
) -> None:
    monkeypatch.setenv("WDC_DUCKDB_EXTENSION_DIR", str(tmp_path / "extensions"))
    monkeypatch.setitem(EXTENSION_PACKAGES, "spatial", "duckdb_extension_spatial_not_installed")
    code, findings = doctor(capsys)
    assert code == 1
    status, detail = findings["DuckDB extensions"]
    assert status == "FAIL"
    assert "duckdb_extension_spatial_not_installed" in detail and "-> fix: `uv sync`" in detail
    assert findings["DuckLake catalog"] == (
        "FAIL",
        "cannot attach it without the DuckDB extensions -> fix: see above",
    )
    assert "ready" not in findings


@pytest.fixture
def read_only_folder(tmp_path: Path) -> Iterator[Path]:
    """A read-only tmpfs mount: unlike chmod, read-only for root too."""
    folder = tmp_path / "read_only"
    folder.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a read-only tmpfs here: {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def test_a_read_only_lake_fails(
    two_days: MeshLake,
    read_only_folder: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
) -> None:
    monkeypatch.setenv("WDC_LAKE_URL", str(read_only_folder))
    code, findings = doctor(capsys)
    assert code == 1
    assert findings["lake writable"] == (
        "FAIL",
        f"cannot write in {read_only_folder}: Read-only file system -> fix: point WDC_LAKE_URL "
        "at a writable folder",
    )


def test_a_lake_under_a_file_fails(
    two_days: MeshLake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("WDC_LAKE_URL", str(blocker / "lake"))
    code, findings = doctor(capsys)
    assert code == 1
    assert findings["lake writable"][0] == "FAIL"
    assert f"cannot create {blocker / 'lake'}: {blocker} is a file" in findings["lake writable"][1]


def test_a_busy_ui_port_fails(two_days: MeshLake, capsys: pytest.CaptureFixture) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = str(busy.getsockname()[1])
        code, findings = doctor(capsys, "--port", port)
    assert code == 1
    status, detail = findings[f"port {port}"]
    assert status == "FAIL" and "is in use" in detail and "wdc dev -p" in detail


def test_postgres_when_configured_must_accept_connections(
    two_days: MeshLake, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    closed = _free_port()
    monkeypatch.setenv("WDC_DUCKLAKE_CATALOG", f"postgres:dbname=wdc host=127.0.0.1 port={closed}")
    code, findings = doctor(capsys)
    assert code == 1
    assert findings["Postgres"][0] == "FAIL"
    assert f"127.0.0.1:{closed} unreachable" in findings["Postgres"][1]

    with socket.socket() as listening:  # something accepts TCP connections there
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        port = listening.getsockname()[1]
        monkeypatch.setenv(
            "WDC_DUCKLAKE_CATALOG", f"postgres:dbname=wdc host=127.0.0.1 port={port}"
        )
        _, findings = doctor(capsys)
    assert findings["Postgres"] == ("OK", f"127.0.0.1:{port} accepts connections")


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    import boto3

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    for name, value in {
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_REGION": "us-east-1",
        "WDC_S3_ENDPOINT_URL": endpoint,
    }.items():
        monkeypatch.setenv(name, value)
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket="lake")
    yield endpoint
    server.stop()


def test_s3_when_configured_must_answer_and_take_a_write(
    two_days: MeshLake, s3: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    import boto3

    monkeypatch.setenv("WDC_LAKE_URL", "s3://lake/mesh")
    code, findings = doctor(capsys)
    assert findings["S3"] == ("OK", f"s3://lake/mesh on {s3}: reachable"), findings
    assert findings["lake writable"] == ("OK", f"s3://lake/mesh on {s3}: writable")
    client = boto3.client("s3", endpoint_url=s3, region_name="us-east-1")
    assert client.list_objects_v2(Bucket="lake").get("KeyCount", 0) == 0, "the probe was left"

    monkeypatch.setenv("WDC_LAKE_URL", "s3://no-such-bucket/mesh")
    code, findings = doctor(capsys)
    assert code == 1
    assert findings["S3"][0] == findings["lake writable"][0] == "FAIL"
    assert (
        "-> fix: check WDC_LAKE_URL, WDC_S3_ENDPOINT_URL and the AWS_* credentials"
        in (findings["S3"][1])
    )
