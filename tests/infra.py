"""Real servers for the production-storage tests, on 127.0.0.1 only: a private PostgreSQL cluster
in a temporary folder and an S3 API server (moto's, in its own process).

Both are started for a test session and stopped at its end. Nothing here is a stand-in: DuckDB's
postgres_scanner, dagster-postgres and psycopg2 talk to a real PostgreSQL; boto3, dagster-aws and
DuckDB's httpfs talk S3 over HTTP to a real server process.

PostgreSQL comes from the machine (Debian's `postgresql` package: `/usr/lib/postgresql/<n>/bin`).
When the binaries are missing, a root session installs them with apt-get (as `.ci/run` does);
otherwise the fixture fails in CI (`CI` set) and skips, with the reason, elsewhere."""

from __future__ import annotations

import glob
import json
import logging
import os
import pwd
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
POSTGRES_USER = "postgres"  # the cluster's superuser (trust auth on loopback only)


class InfraUnavailable(RuntimeError):
    """A server the tests need cannot be started on this machine."""


def free_port() -> int:
    """A TCP port free on the loopback now (the server binding it next may still race; callers
    retry once on a bind failure)."""
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def _wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise InfraUnavailable(f"server on port {port} exited with {process.returncode}")
        try:
            with socket.create_connection((LOOPBACK, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise InfraUnavailable(f"nothing listens on {LOOPBACK}:{port} after {timeout:.0f}s")


# --- PostgreSQL ----------------------------------------------------------------------------------


def postgres_bin_dir() -> Path | None:
    """The newest PostgreSQL server binaries on the machine (Debian layout first, then PATH)."""
    candidates = sorted(
        (Path(p).parent for p in glob.glob("/usr/lib/postgresql/*/bin/initdb")),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    if candidates:
        return candidates[-1]
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _install_postgres() -> Path | None:
    """apt-get install postgresql, as root only (what .ci/run does on a fresh machine)."""
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return None
    log.warning("PostgreSQL binaries are missing: installing postgresql with apt-get")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update"], ["apt-get", "install", "-y", "postgresql"]):
        subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL, timeout=900)
    return postgres_bin_dir()


@dataclass(frozen=True)
class PostgresCluster:
    """A running private cluster: superuser `postgres`, trust auth, loopback only."""

    bin_dir: Path
    data_dir: Path
    port: int
    host: str = LOOPBACK
    owner: str | None = None  # the system user the server runs as (`postgres` under root)

    def libpq(self, dbname: str) -> str:
        """The key=value connection string DuckDB's postgres_scanner (and DuckLake) take."""
        return f"dbname={dbname} host={self.host} port={self.port} user={POSTGRES_USER}"

    def url(self, dbname: str) -> str:
        return f"postgresql://{POSTGRES_USER}@{self.host}:{self.port}/{dbname}"

    def create_database(self, name: str) -> str:
        """A new, empty database; its libpq connection string."""
        import psycopg2

        con = psycopg2.connect(self.libpq("postgres"))
        try:
            con.autocommit = True
            with con.cursor() as cur:
                cur.execute(f'CREATE DATABASE "{name}"')
        finally:
            con.close()
        return self.libpq(name)

    def query(self, dbname: str, sql: str) -> list[tuple[object, ...]]:
        import psycopg2

        con = psycopg2.connect(self.libpq(dbname))
        try:
            with con.cursor() as cur:
                cur.execute(sql)
                return cur.fetchall()
        finally:
            con.close()

    # A fault to inject: the server stopped (fast: open transactions are rolled back and every
    # client's connection is closed), started again on the same port and data directory.

    def _pg_ctl(self, *args: str) -> None:
        root = self.data_dir.parent
        command = [str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), *args]
        try:
            subprocess.run(
                _as_owner(command, self.owner), check=True, capture_output=True, timeout=180
            )
        except subprocess.CalledProcessError as error:
            raise InfraUnavailable(f"pg_ctl {args[-1]} failed: {_tail(root)}") from error

    def stop(self) -> None:
        self._pg_ctl("-m", "fast", "-w", "stop")

    def start(self) -> None:
        root = self.data_dir.parent
        self._pg_ctl(
            "-l",
            str(root / "postgres.log"),
            "-o",
            _options(root, self.port),
            "-w",
            "-t",
            "120",
            "start",
        )

    def restart(self) -> None:
        """`pg_ctl restart -m fast`: what an operator's restart (or a failover) looks like to
        the clients."""
        root = self.data_dir.parent
        self._pg_ctl(
            "-l",
            str(root / "postgres.log"),
            "-o",
            _options(root, self.port),
            "-m",
            "fast",
            "-w",
            "-t",
            "120",
            "restart",
        )


def _as_owner(command: list[str], owner: str | None) -> list[str]:
    """initdb and postgres refuse to run as root: run them as the `postgres` system user then."""
    if owner is None:
        return command
    if shutil.which("runuser"):
        return ["runuser", "-u", owner, "--", *command]
    return ["su", owner, "-s", "/bin/sh", "-c", " ".join(command)]


@contextmanager
def postgres_cluster() -> Iterator[PostgresCluster]:
    """initdb into a temporary folder, start on a free loopback port, stop and remove at exit."""
    bin_dir = postgres_bin_dir() or _install_postgres()
    if bin_dir is None:
        raise InfraUnavailable(
            "PostgreSQL server binaries (initdb, pg_ctl) not found and not installable here: "
            "install them with `apt-get install -y postgresql` (.ci/run does so)"
        )
    owner = None
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(POSTGRES_USER)
        except KeyError as error:
            raise InfraUnavailable("running as root, but there is no `postgres` user") from error
        owner = POSTGRES_USER
    # Not under pytest's tmp_path: its parents are private to root, and the server runs as postgres.
    root = Path(tempfile.mkdtemp(prefix="wdc-pg-"))
    data_dir = root / "data"
    if owner is not None:
        entry = pwd.getpwnam(owner)
        os.chown(root, entry.pw_uid, entry.pw_gid)
    try:
        subprocess.run(
            _as_owner(
                [
                    str(bin_dir / "initdb"),
                    "-D",
                    str(data_dir),
                    "-U",
                    POSTGRES_USER,
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--no-sync",
                ],
                owner,
            ),
            check=True,
            capture_output=True,
            timeout=300,
        )
        cluster = _start(bin_dir, root, data_dir, owner)
        try:
            yield cluster
        finally:
            subprocess.run(
                _as_owner(
                    [str(bin_dir / "pg_ctl"), "-D", str(data_dir), "-m", "fast", "-w", "stop"],
                    owner,
                ),
                capture_output=True,
                timeout=120,
            )
    except subprocess.CalledProcessError as error:
        output = (error.stdout or b"").decode() + (error.stderr or b"").decode()
        raise InfraUnavailable(f"PostgreSQL failed: {error}\n{output}") from error
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _options(root: Path, port: int) -> str:
    return (
        f"-c listen_addresses={LOOPBACK} -c port={port} -c unix_socket_directories={root} "
        # a test cluster: durability is not what is tested, speed on 2 shared cores is
        "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
        "-c max_connections=200"
    )


def _start(bin_dir: Path, root: Path, data_dir: Path, owner: str | None) -> PostgresCluster:
    last_error: subprocess.CalledProcessError | None = None
    for _attempt in range(3):  # a free port can be taken between the probe and the bind
        port = free_port()
        options = _options(root, port)
        command = [
            str(bin_dir / "pg_ctl"),
            "-D",
            str(data_dir),
            "-l",
            str(root / "postgres.log"),
            "-o",
            options,
            "-w",
            "-t",
            "120",
            "start",
        ]
        try:
            subprocess.run(_as_owner(command, owner), check=True, capture_output=True, timeout=180)
            return PostgresCluster(bin_dir=bin_dir, data_dir=data_dir, port=port, owner=owner)
        except subprocess.CalledProcessError as error:
            last_error = error
            log.warning("PostgreSQL did not start on port %d: %s", port, _tail(root))
    assert last_error is not None
    raise last_error


def _tail(root: Path) -> str:
    log_file = root / "postgres.log"
    return log_file.read_text()[-2000:] if log_file.exists() else "(no log)"


# --- S3 ------------------------------------------------------------------------------------------

# The server enforces authentication after its first requests, which create this IAM user.
S3_IAM_USER = "wdc-lake"
_S3_SETUP_REQUESTS = 3  # create_user, create_access_key, put_user_policy
S3_REGION = "us-east-1"


@dataclass(frozen=True)
class S3Server:
    """An S3 API server that checks signatures: only `credentials` (an IAM user with s3:* on
    every bucket) are accepted; an unknown key or a wrong secret is refused as real S3 does."""

    endpoint_url: str
    access_key_id: str
    secret_access_key: str

    @property
    def credentials(self) -> dict[str, str]:
        """The standard AWS variables for this server's user."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_REGION": S3_REGION,
        }

    def client(self, key: str | None = None, secret: str | None = None) -> Any:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=S3_REGION,
            aws_access_key_id=key or self.access_key_id,
            aws_secret_access_key=secret or self.secret_access_key,
        )

    def buckets(self) -> set[str]:
        return {b["Name"] for b in self.client().list_buckets().get("Buckets", [])}

    def create_bucket(self, name: str) -> str:
        self.client().create_bucket(Bucket=name)
        return name

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        paginator = self.client().get_paginator("list_objects_v2")
        return sorted(
            obj["Key"]
            for page in paginator.paginate(Bucket=bucket, Prefix=prefix)
            for obj in page.get("Contents", [])
        )


def _create_iam_user(endpoint_url: str) -> tuple[str, str]:
    import boto3

    # The server's first requests are not authenticated: any key creates the user.
    iam = boto3.client(
        "iam",
        endpoint_url=endpoint_url,
        region_name=S3_REGION,
        aws_access_key_id="bootstrap",
        aws_secret_access_key="bootstrap",
    )
    iam.create_user(UserName=S3_IAM_USER)
    key = iam.create_access_key(UserName=S3_IAM_USER)["AccessKey"]
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
    }
    iam.put_user_policy(UserName=S3_IAM_USER, PolicyName="lake", PolicyDocument=json.dumps(policy))
    return key["AccessKeyId"], key["SecretAccessKey"]


@contextmanager
def s3_server() -> Iterator[S3Server]:
    """moto's S3 server in a process of its own (its state is its own, and its request handling
    does not compete for this process's GIL while a run is in it), with authentication on."""
    env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": str(_S3_SETUP_REQUESTS)}
    moto = Path(sys.executable).with_name("moto_server")
    for _attempt in range(3):
        port = free_port()
        process = subprocess.Popen(
            [str(moto), "-H", LOOPBACK, "-p", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            _wait_for_port(port, process, timeout=60)
        except InfraUnavailable:
            process.kill()
            process.wait()
            continue
        try:
            endpoint = f"http://{LOOPBACK}:{port}"
            yield S3Server(endpoint, *_create_iam_user(endpoint))
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        return
    raise InfraUnavailable("moto's S3 server did not start")


# --- a network fault -----------------------------------------------------------------------------


class TcpProxy:
    """A TCP forwarder from a loopback port of its own to `target_port`, to take a server away
    from its clients and give it back with its state intact (moto's S3 server loses its buckets
    when its process stops). `cut()` closes the listening socket and every connection through it:
    clients see reset connections, then refused ones, as when the server is down. `restore()`
    listens on the same port again."""

    def __init__(self, target_port: int, host: str = LOOPBACK) -> None:
        self.host = host
        self.target_port = target_port
        self.port = free_port()
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self._stop = threading.Event()
        self._acceptor: threading.Thread | None = None
        self.cuts = 0

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def __enter__(self) -> TcpProxy:
        self.restore()
        return self

    def __exit__(self, *exc: object) -> None:
        self.cut()

    def restore(self) -> None:
        """Listen (again) on the proxy's port."""
        if self._listener is not None:
            return
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        for _attempt in range(50):  # the port of a cut listener may linger a moment
            try:
                listener.bind((self.host, self.port))
                break
            except OSError:
                time.sleep(0.1)
        else:
            listener.close()
            raise InfraUnavailable(f"the proxy cannot listen on {self.host}:{self.port} again")
        listener.listen(128)
        listener.settimeout(0.2)
        self._stop = threading.Event()
        self._listener = listener
        self._acceptor = threading.Thread(
            target=self._accept, args=(listener, self._stop), name="tcp-proxy", daemon=True
        )
        self._acceptor.start()
        log.info("proxy %s -> :%d up", self.url, self.target_port)

    def cut(self) -> None:
        """Stop listening and drop every open connection."""
        listener, self._listener = self._listener, None
        if listener is None:
            return
        self._stop.set()
        if self._acceptor is not None:
            self._acceptor.join(timeout=10)
        listener.close()
        with self._lock:
            sockets, self._sockets = self._sockets, set()
        for sock in sockets:
            _drop(sock)
        self.cuts += 1
        log.info("proxy %s cut (%d connection(s) dropped)", self.url, len(sockets))

    def _accept(self, listener: socket.socket, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection((self.host, self.target_port), timeout=10)
            except OSError:
                _drop(client)
                continue
            client.settimeout(None)
            upstream.settimeout(None)
            with self._lock:
                if stop.is_set():
                    _drop(client)
                    _drop(upstream)
                    return
                self._sockets.update((client, upstream))
            pair = _Pair(client, upstream)
            for source, target in ((client, upstream), (upstream, client)):
                threading.Thread(
                    target=self._pump,
                    args=(pair, source, target),
                    name="tcp-proxy-pump",
                    daemon=True,
                ).start()

    def _pump(self, pair: _Pair, source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
            target.shutdown(socket.SHUT_WR)
        except OSError:
            pair.finished = 2  # one side is gone: so is the connection
        with self._lock:
            pair.finished += 1
            if pair.finished < 2:
                return
            self._sockets.difference_update((pair.client, pair.upstream))
        _drop(pair.client)
        _drop(pair.upstream)


@dataclass
class _Pair:
    """A client's connection through the proxy and the proxy's to the server."""

    client: socket.socket
    upstream: socket.socket
    finished: int = 0  # directions done


def _drop(sock: socket.socket) -> None:
    """Close with a reset (SO_LINGER 0), as a server that went away would."""
    with suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with suppress(OSError):
        sock.close()
