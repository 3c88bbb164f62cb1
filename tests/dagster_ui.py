"""Driving a real `dagster dev` as engineers do: the server as a subprocess on a free port, its
GraphQL API, and Debian's chromium through Playwright (never a downloaded browser)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from wdc_orchestration.settings import PROJECT_ROOT

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(os.environ.get("WDC_TEST_ARTIFACTS", PROJECT_ROOT / "test-artifacts")) / "ui"
# Five code locations load in parallel on two cores shared with other work: minutes, not seconds.
LOAD_TIMEOUT_S = 420.0
RUN_TIMEOUT_S = 300.0
RUNNING = {"QUEUED", "NOT_STARTED", "STARTING", "STARTED", "CANCELING"}
LOCATIONS_QUERY = """
{ workspaceOrError { __typename ... on Workspace { locationEntries {
    name loadStatus
    locationOrLoadError { __typename ... on PythonError { message } }
} } } }
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def graphql(port: int, query: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
    body = json.dumps({"query": query, "variables": dict(variables or {})}).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=body,
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        payload = json.loads(response.read())
    assert "errors" not in payload, payload["errors"]
    return payload["data"]


class DagsterUI:
    """The GraphQL endpoint of a running `dagster dev` (or `wdc dev`) on `port`, whoever started
    it (`process`: the server's process, when known, so a crash fails fast), and its log file."""

    def __init__(self, port: int, log: Path, process: subprocess.Popen | None = None) -> None:
        self.port = port
        self.log = log
        self.process = process

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def locations(self) -> list[dict[str, Any]]:
        workspace = graphql(self.port, LOCATIONS_QUERY)["workspaceOrError"]
        assert workspace["__typename"] == "Workspace", workspace
        return workspace["locationEntries"]

    def wait_until_loaded(self, timeout: float = LOAD_TIMEOUT_S) -> list[dict[str, Any]]:
        """Every location finished loading (LOADED, its code or its error); the entries."""
        deadline = time.monotonic() + timeout
        last: object = "no answer yet"
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                pytest.fail(f"dagster dev exited with {self.process.returncode}; see {self.log}")
            try:
                entries = self.locations()
            except (urllib.error.URLError, ConnectionError, TimeoutError) as error:
                last = error
            else:
                last = entries
                if entries and all(e["loadStatus"] == "LOADED" for e in entries):
                    return entries
            time.sleep(2)
        pytest.fail(f"code locations not loaded in {timeout:.0f}s: {last}; see {self.log}")

    def wait_for_run(self, run_id: str, timeout: float = RUN_TIMEOUT_S) -> dict[str, Any]:
        """The finished run: status, steps."""
        query = """query($id: ID!) { runOrError(runId: $id) { __typename ... on Run {
            runId status jobName stepStats { stepKey status } } } }"""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            run = graphql(self.port, query, {"id": run_id})["runOrError"]
            if run["__typename"] == "Run" and run["status"] not in RUNNING:
                return run
            time.sleep(2)
        pytest.fail(f"run {run_id} not finished in {timeout:.0f}s; see {self.log}")

    def wait_for_no_runs_in_progress(self, timeout: float = RUN_TIMEOUT_S) -> None:
        """Before stopping: a run killed half-way would leave the shared lake mid-write."""
        query = "{ runsOrError(limit: 50) { ... on Runs { results { status } } } }"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                runs = graphql(self.port, query)["runsOrError"]["results"]
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                return
            if not any(run["status"] in RUNNING for run in runs):
                return
            time.sleep(2)


class DagsterDev(DagsterUI):
    """A `dagster dev` (or `wdc dev`) process group started here, its log file, and its GraphQL
    endpoint."""

    def __init__(self, command: Sequence[str], port: int, env: Mapping[str, str], log: Path):
        venv_bin = str(Path(sys.executable).parent)
        environment = {**env, "PATH": f"{venv_bin}:{env.get('PATH', '')}"}
        self._log_file = log.open("wb")
        process = subprocess.Popen(
            list(command),
            cwd=PROJECT_ROOT,
            env=environment,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: stopped as one, code servers too
        )
        super().__init__(port, log, process)

    def stop(self) -> None:
        """Ctrl-C, as an engineer stops it (dagster dev then stops its children); killed when
        it does not stop in time."""
        with contextlib.suppress(ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(self.process.pid, signal.SIGINT)
            self.process.wait(timeout=30)
        with contextlib.suppress(ProcessLookupError):  # stragglers: code servers, trackers
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        self._log_file.close()


def require_chromium() -> Path:
    """Debian's chromium; CI must not skip these tests silently when it is missing."""
    if CHROMIUM.exists():
        return CHROMIUM
    message = f"{CHROMIUM} is missing: `apt-get install -y chromium` (.ci/run installs it)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@contextmanager
def chromium_page(viewport: tuple[int, int] = (1600, 1000)) -> Iterator[Any]:
    """A page in a fresh headless chromium (empty user-data dir: no state between sessions)."""
    from playwright.sync_api import sync_playwright

    executable = require_chromium()
    with sync_playwright() as playwright, tempfile.TemporaryDirectory() as user_data:
        context = playwright.chromium.launch_persistent_context(
            user_data,
            executable_path=str(executable),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": viewport[0], "height": viewport[1]},
        )
        context.set_default_timeout(60_000)
        try:
            yield context.new_page()
        finally:
            context.close()


def screenshot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


def wdc_executable() -> str:
    """The `wdc` console script of this environment."""
    found = shutil.which("wdc", path=str(Path(sys.executable).parent))
    assert found, "the wdc script is not installed in this environment (uv sync)"
    return found
