"""What a `wdc doctor` check found: OK, or the problem and its fix, on one line."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Finding:
    item: str
    status: str  # OK, FAIL, or SKIP (not configured here)
    detail: str  # what was found, or the problem and the fix

    @property
    def failed(self) -> bool:
        return self.status == "FAIL"


def ok(item: str, detail: str) -> Finding:
    return Finding(item, "OK", detail)


def fail(item: str, problem: str, fix: str) -> Finding:
    return Finding(item, "FAIL", f"{problem} -> fix: {fix}")


def skip(item: str, why: str) -> Finding:
    return Finding(item, "SKIP", why)


def first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
