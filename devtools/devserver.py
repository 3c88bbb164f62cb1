"""`dagster dev` on the workspace in a subprocess (the webserver, the daemon and one code server
per domain, as a user starts them), and the GraphQL calls tests and benchmarks make to it:
launch a domain's daily job for a day, wait for runs, read their status. The instance is the
platform's (`wdc` writes its dagster.yaml: mesh.dagster_home)."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from wdc_orchestration.settings import PROJECT_ROOT

if TYPE_CHECKING:
    from wdc_orchestration.ops.deploy import CodeServer

log = logging.getLogger(__name__)

FINISHED = {"SUCCESS", "FAILURE", "CANCELED"}
LOCATIONS_QUERY = """
query {
  workspaceOrError {
    __typename
    ... on Workspace {
      locationEntries {
        name
        loadStatus
        locationOrLoadError { __typename ... on PythonError { message } }
      }
    }
  }
}
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def spawn(
    command: Sequence[str], cwd: Path, env: Mapping[str, str], log_file: Path
) -> subprocess.Popen:
    """`command` in its own process group (stopped as a whole: its children too), its output
    appended to `log_file`."""
    with open(log_file, "ab") as output:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            list(command),
            cwd=cwd,
            env=dict(env),
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # a member we may not signal: still there
        return True
    return True


def stop_group(
    process: subprocess.Popen | None, grace: float = 60.0, deadline: float | None = None
) -> None:
    """SIGTERM to the process's group; SIGKILL to what is left of it after `grace` (or at
    `deadline`, a time.monotonic() shared by groups stopped together). Waits for the whole group,
    not only its leader: `dagster dev`'s servers and a code server's runs are in it and may still
    be shutting down when the leader has exited."""
    if process is None:
        return
    deadline = deadline if deadline is not None else time.monotonic() + grace
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
    while _group_alive(process.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if _group_alive(process.pid):
        log.warning("process group %d did not stop after SIGTERM: killing it", process.pid)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


def dagster_executable(name: str = "dagster") -> str:
    """A Dagster command of this environment (dagster, dagster-webserver, dagster-daemon)."""
    return str(Path(sys.executable).with_name(name))


@dataclass
class DagsterDev:
    """A running `dagster dev`; use as a context manager (stops it, children included)."""

    home: Path
    workspace: Path = PROJECT_ROOT / "workspace.yaml"
    env: Mapping[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    log_file: Path | None = None
    process: subprocess.Popen | None = None
    # False: an instance with Dagster's defaults (no dagster.yaml: no pool limits, as the
    # throw-away instance of a plain `dagster dev -w workspace.yaml`), instead of wdc's
    platform_instance: bool = True

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 600.0) -> DagsterDev:
        from wdc_orchestration.mesh.workspace import dagster_home

        environment = {**os.environ, **self.env, "DAGSTER_HOME": str(self.home)}
        os.environ["DAGSTER_HOME"] = str(self.home)  # dagster_home() writes the instance yaml
        if self.platform_instance:
            dagster_home()
        else:
            self.home.mkdir(parents=True, exist_ok=True)
        self.log_file = self.log_file or self.home / "dagster-dev.log"
        self.process = spawn(
            [dagster_executable(), "dev", "-w", str(self.workspace), "-p", str(self.port)]
            + ["-h", "127.0.0.1"],
            cwd=self.workspace.parent,
            env=environment,
            log_file=self.log_file,
        )
        self.wait_for_locations(timeout)
        return self

    def client(self):  # noqa: ANN201 - dagster_graphql.DagsterGraphQLClient
        from dagster_graphql import DagsterGraphQLClient

        return DagsterGraphQLClient("127.0.0.1", port_number=self.port, timeout=120)

    def locations(self) -> dict[str, str]:
        """Location name -> "LOADED" or the error's type and message."""
        data = self.client()._execute(LOCATIONS_QUERY)["workspaceOrError"]
        found = {}
        for entry in data.get("locationEntries", []):
            error = entry.get("locationOrLoadError") or {}
            if error.get("__typename") == "PythonError":
                found[entry["name"]] = f"ERROR: {error.get('message', '')[:500]}"
            else:
                found[entry["name"]] = entry["loadStatus"]
        return found

    def wait_for_locations(self, timeout: float) -> dict[str, str]:
        """Until every location finished loading (loaded or failed)."""
        deadline = time.monotonic() + timeout
        last: dict[str, str] | str = "no answer yet"
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"dagster dev exited: see {self.log_file}")
            try:
                last = self.locations()
                if last and all(status != "LOADING" for status in last.values()):
                    return last
            except Exception as error:  # the webserver is not up yet
                last = f"{type(error).__name__}: {error}"
            time.sleep(1.0)
        raise TimeoutError(f"dagster dev did not load the workspace in {timeout}s: {last}")

    def launch_daily(
        self, domain: str, day: str | None = None, tags: Mapping[str, str] | None = None, **kw
    ) -> str:
        """Launch `<domain>_daily` for `day` (or a range: tags of a single-run backfill)."""
        run_tags = dict(tags or {})
        if day is not None:
            run_tags["dagster/partition"] = day
        return self.client().submit_job_execution(
            f"{domain}_daily",
            repository_location_name=domain,
            repository_name="__repository__",
            tags=run_tags,
            **kw,
        )

    def status(self, run_id: str) -> str:
        return self.client().get_run_status(run_id).value

    def wait(
        self, run_ids: Iterable[str], timeout: float = 1800.0, poll: float = 1.0
    ) -> dict[str, str]:
        """Until every run finished; run id -> final status."""
        pending = list(run_ids)
        done: dict[str, str] = {}
        deadline = time.monotonic() + timeout
        while pending:
            if time.monotonic() > deadline:
                states = {r: self.status(r) for r in pending}
                raise TimeoutError(f"runs not finished after {timeout}s: {states}")
            for run_id in list(pending):
                state = self.status(run_id)
                if state in FINISHED:
                    done[run_id] = state
                    pending.remove(run_id)
            time.sleep(poll)
        return done

    def stop(self) -> None:
        stop_group(self.process)

    def __enter__(self) -> DagsterDev:
        return self.start() if self.process is None else self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()


def launch_all(server: DagsterDev, domains: Sequence[str], day: str) -> dict[str, str]:
    """Every domain's daily job for `day`, launched back to back (as the 02:00 schedules do)."""
    return {domain: server.launch_daily(domain, day) for domain in domains}


def launch_at_once(server: DagsterDev, domains: Sequence[str], day: str) -> dict[str, str]:
    """Every domain's daily job for `day`, the launches themselves concurrent (the benchmarks
    time a night from its first launch, as the schedules fire together)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(len(domains)) as pool:
        futures = {d: pool.submit(server.launch_daily, d, day) for d in domains}
        return {d: f.result() for d, f in futures.items()}


@dataclass
class GrpcDeployment(DagsterDev):
    """The production layout on this machine (README, "The daemon, the webserver and code
    servers"): one `dagster api grpc` code server per domain of `workspace`, then
    `dagster-webserver` and `dagster-daemon run` on a workspace of their `grpc_server` entries
    (wdc_orchestration.ops.deploy writes it), all on the platform's instance in `home`. The GraphQL
    calls are DagsterDev's; as a context manager it stops every process group it started."""

    servers: list[CodeServer] = field(default_factory=list)
    grpc_workspace: Path | None = None
    daemon: subprocess.Popen | None = None
    code_server_processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    def start(self, timeout: float = 600.0) -> GrpcDeployment:
        import dagster as dg

        from wdc_orchestration.mesh.registry import domain_modules
        from wdc_orchestration.mesh.workspace import dagster_home
        from wdc_orchestration.ops.deploy import CodeServer, grpc_workspace_yaml

        environment = {**os.environ, **self.env, "DAGSTER_HOME": str(self.home)}
        os.environ["DAGSTER_HOME"] = str(self.home)  # dagster_home() writes the instance yaml
        dagster_home()
        # The storage's tables, made once here: processes that start together on an empty
        # PostgreSQL database would race to create them.
        with dg.DagsterInstance.from_config(str(self.home)):
            pass
        if not self.servers:
            self.servers = [
                CodeServer(location, module, "127.0.0.1", free_port())
                for location, module in domain_modules(self.workspace).items()
            ]
        self.grpc_workspace = self.home / "workspace.grpc.yaml"
        self.grpc_workspace.write_text(grpc_workspace_yaml(self.servers, str(self.grpc_workspace)))
        try:
            for server in self.servers:  # all at once: each loads its domain on its own
                self.code_server_processes[server.location] = spawn(
                    [dagster_executable(), *server.command(bind=server.host)[1:]],
                    cwd=self.workspace.parent,
                    env=environment,
                    log_file=self.home / f"grpc-{server.location}.log",
                )
            self.wait_for_code_servers(timeout)
            workspace = ["-w", str(self.grpc_workspace)]
            self.log_file = self.log_file or self.home / "dagster-webserver.log"
            self.process = spawn(
                [dagster_executable("dagster-webserver"), "-h", "127.0.0.1", "-p", str(self.port)]
                + workspace,
                cwd=self.workspace.parent,
                env=environment,
                log_file=self.log_file,
            )
            self.daemon = spawn(
                [dagster_executable("dagster-daemon"), "run", *workspace],
                cwd=self.workspace.parent,
                env=environment,
                log_file=self.home / "dagster-daemon.log",
            )
            self.wait_for_locations(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def wait_for_code_servers(self, timeout: float) -> None:
        """Until every code server answers a ping."""
        from dagster._grpc.client import DagsterGrpcClient

        deadline = time.monotonic() + timeout
        pending = {server.location: server for server in self.servers}
        while pending:
            for location, server in list(pending.items()):
                if self.code_server_processes[location].poll() is not None:
                    log_file = self.home / f"grpc-{location}.log"
                    raise RuntimeError(f"the code server of {location} exited: see {log_file}")
                try:
                    DagsterGrpcClient(port=server.port, host=server.host).ping("wdc")
                    del pending[location]
                except Exception:  # not serving yet
                    pass
            if pending and time.monotonic() > deadline:
                raise TimeoutError(f"code servers not serving after {timeout}s: {sorted(pending)}")
            if pending:
                time.sleep(0.5)
        log.info("%d code servers are serving", len(self.servers))

    def stop(self) -> None:
        """The webserver and the daemon, then the code servers (and the runs they started)."""
        for process in (self.process, self.daemon, *self.code_server_processes.values()):
            if process is not None and process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        # One grace for all of them, signalled together: each in turn with its own grace took
        # 5 min in CI when the code servers outlived their SIGTERM.
        deadline = time.monotonic() + 60.0
        for process in (self.process, self.daemon, *self.code_server_processes.values()):
            stop_group(process, deadline=deadline)
