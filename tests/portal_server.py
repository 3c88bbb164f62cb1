"""`wdc portal` served for a test: started on a free port, waited for (its sign-in page answers),
stopped at the end. Shared by the portal's websocket tests and its browser tests."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from tests.infra import free_port
from wdc_orchestration.governance.access_requests import AUDIT_PREFIX
from wdc_orchestration.resources.lake import LakeStorage
from wdc_orchestration.settings import PROJECT_ROOT

START_TIMEOUT_S = 180  # a shared 2-core machine: the portal imports Taipy, dbt and DuckDB


@contextmanager
def served_portal(
    env: Mapping[str, str], log_path: Path, extra_args: Sequence[str] = ()
) -> Iterator[str]:
    """The portal's URL once it answers; its output goes to `log_path`."""
    port = free_port()
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "wdc_orchestration.cli", "portal", "--port", str(port),
             *extra_args],
            cwd=PROJECT_ROOT, env=dict(env), stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + START_TIMEOUT_S
        try:
            while True:
                try:
                    with urllib.request.urlopen(url + "/signin", timeout=5) as response:
                        if response.status == 200:
                            break
                except OSError:
                    pass
                assert process.poll() is None, log_path.read_text()[-3000:]
                assert time.monotonic() < deadline, "the portal did not start"
                time.sleep(0.5)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


def list_decisions(lake: LakeStorage) -> list[dict[str, str]]:
    """Every access decision's audit record on the lake, oldest first (what the tests check the
    portal wrote)."""
    return [json.loads(lake.read_bytes(key)) for key in lake.list_keys(AUDIT_PREFIX + "/")]
