"""How long the suite takes on N workers for a given order of its scopes, computed from a recorded
run's scope durations (`test-artifacts/scope-durations.json`, written by every pytest run;
tests/scope_order.py) with xdist's loadscope rules: a worker is handed the next scope of the
queue whenever two or fewer of its tests are left to run (xdist's prefetch heuristic).

It compares xdist's default order (scopes by number of tests, most first) with the suite's
(longest recorded duration first). A model, not a measurement: a scope's duration on a busy
worker differs from its recorded one, and the figures say how the order alone changes the end.

    uv run python -m bench.suite_schedule [--durations test-artifacts/scope-durations.json] [-n 2]
"""

from __future__ import annotations

import argparse
import heapq
import json
import logging
from pathlib import Path

log = logging.getLogger("bench.suite_schedule")

PREFETCH = 2  # xdist LoadScopeScheduling._reschedule: more work when pending <= 2


def makespan(order: list[str], seconds: dict[str, float], tests: dict[str, int], n: int) -> float:
    """When the last worker ends: scopes handed out in `order` by xdist's loadscope rules, each
    test of a scope taking an equal share of its duration."""
    queue = list(order)
    # per worker: the tests it holds, as (duration) in order, and the clock
    held: list[list[float]] = [[] for _ in range(n)]
    clock = [0.0] * n

    def assign(worker: int) -> None:
        scope = queue.pop(0)
        count = max(1, tests.get(scope, 1))
        held[worker].extend([seconds[scope] / count] * count)

    for worker in range(n):
        if queue:
            assign(worker)
    for worker in range(n):
        if queue and len(held[worker]) <= PREFETCH:
            assign(worker)
    events = [(0.0, w) for w in range(n) if held[w]]
    heapq.heapify(events)
    while events:
        now, worker = heapq.heappop(events)
        if not held[worker]:
            clock[worker] = now
            continue
        duration = held[worker].pop(0)
        done = now + duration
        clock[worker] = done
        if queue and len(held[worker]) <= PREFETCH:
            assign(worker)
        heapq.heappush(events, (done, worker))
    return max(clock)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--durations", type=Path, default=Path("test-artifacts") / "scope-durations.json"
    )
    parser.add_argument("-n", "--workers", type=int, nargs="+", default=[2, 3])
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    recorded = json.loads(args.durations.read_text(encoding="utf-8"))
    seconds: dict[str, float] = recorded["scopes"]
    tests: dict[str, int] = recorded.get("tests", {})
    total = sum(seconds.values())
    by_count = sorted(seconds, key=lambda s: -tests.get(s, 1))
    longest = sorted(seconds, key=lambda s: -seconds[s])
    log.info("%d scopes, %.0f s of tests in all (%s)", len(seconds), total, args.durations)
    for n in args.workers:
        ideal = max(total / n, max(seconds.values()))
        log.info(
            "%d workers: xdist's order (most tests first) %.0f s · longest first %.0f s · "
            "bound %.0f s",
            n,
            makespan(by_count, seconds, tests, n),
            makespan(longest, seconds, tests, n),
            ideal,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
