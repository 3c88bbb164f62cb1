"""The order in which xdist hands the suite's scopes to its workers: the longest first.

`--dist loadscope` sends each scope (a module, or a class) to one worker, in the order the scopes
were collected; by default xdist first sorts them by their number of tests, which put the
suite's longest scopes — a single test each, like the throw-away `dagster dev` night — last, one
worker running them alone while the other had finished (`--no-loadscope-reorder` turns that off).
Longest first (the LPT rule) ends the workers close together. Scopes are weighed by the seconds
they took in a recorded run (`tests/scope_durations.json`); a scope it does not know weighs
nothing and keeps pytest-randomly's shuffled place among the light ones.

Every run records what each scope took to `test-artifacts/scope-durations.json`; copy that file
over `tests/scope_durations.json` when the suite's shape changes (docs/testing.md)."""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from pathlib import Path

import pytest

log = logging.getLogger(__name__)

WEIGHTS_FILE = Path(__file__).with_name("scope_durations.json")


def scope_of(nodeid: str) -> str:
    """The scope xdist's loadscope gives a test: its class, or its module (xdist's own rule)."""
    return nodeid.rsplit("::", 1)[0]


def load_weights(path: Path = WEIGHTS_FILE) -> dict[str, float]:
    if not path.exists():
        return {}
    try:
        recorded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:  # a bad file costs the order, never the run
        log.warning("scope durations in %s not read (%s): the shuffled order is kept", path, error)
        return {}
    return {str(scope): float(seconds) for scope, seconds in recorded.get("scopes", {}).items()}


def longest_scopes_first(items: list[pytest.Item], weights: dict[str, float]) -> None:
    """Reorder `items` in place: scopes by recorded duration, longest first. The sort is stable,
    so the tests inside a scope, and the scopes of equal weight, keep the order they came in."""
    items.sort(key=lambda item: -weights.get(scope_of(item.nodeid), 0.0))


class ScopeDurations:
    """Adds up setup, call and teardown of every test by scope, on the process that receives the
    reports (xdist's controller, or the only process), and writes them at the end."""

    def __init__(self, target: Path) -> None:
        self.target = target
        self.seconds: dict[str, float] = defaultdict(float)
        self.tests: dict[str, set[str]] = defaultdict(set)

    def add(self, report: pytest.TestReport) -> None:
        scope = scope_of(report.nodeid)
        self.seconds[scope] += report.duration
        self.tests[scope].add(report.nodeid)

    def write(self, exit_status: int) -> None:
        if not self.seconds:
            return
        self.target.parent.mkdir(parents=True, exist_ok=True)
        ordered = dict(sorted(self.seconds.items(), key=lambda kv: -kv[1]))
        payload = {
            "note": "seconds per xdist scope (setup+call+teardown), longest first; "
            "tests/scope_order.py",
            "exit_status": exit_status,
            "scopes": {scope: round(seconds, 1) for scope, seconds in ordered.items()},
            "tests": {scope: len(self.tests[scope]) for scope in ordered},
        }
        self.target.write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
