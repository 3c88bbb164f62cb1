"""`dagster dev` on the workspace in a subprocess (the webserver, the daemon and one code server
per domain, as a user starts them), and the GraphQL calls tests and benchmarks make to it:
launch a domain's daily job for a day, wait for runs, read their status. The instance is the
platform's (`wdc` writes its dagster.yaml: mesh.dagster_home)."""

from __future__ import annotations

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

from wdc_orchestration.settings import PROJECT_ROOT

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


@dataclass
class DagsterDev:
    """A running `dagster dev`; use as a context manager (stops it, children included)."""

    home: Path
    workspace: Path = PROJECT_ROOT / "workspace.yaml"
    env: Mapping[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    log_file: Path | None = None
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 600.0) -> DagsterDev:
        from wdc_orchestration.mesh import dagster_home

        environment = {**os.environ, **self.env, "DAGSTER_HOME": str(self.home)}
        os.environ["DAGSTER_HOME"] = str(self.home)  # dagster_home() writes the instance yaml
        dagster_home()
        self.log_file = self.log_file or self.home / "dagster-dev.log"
        output = open(self.log_file, "ab")  # noqa: SIM115 - kept open for the child's life
        dagster = Path(sys.executable).with_name("dagster")
        self.process = subprocess.Popen(
            [str(dagster), "dev", "-w", str(self.workspace), "-p", str(self.port)]
            + ["-h", "127.0.0.1"],
            cwd=self.workspace.parent,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopped as a whole
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
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

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
