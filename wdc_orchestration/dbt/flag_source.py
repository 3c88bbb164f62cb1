"""dbt's behaviour flags name their source module with `inspect.stack()`: a cheaper walk.

dbt-common builds every adapter behaviour flag with `flag.get("source", _default_source())`,
which runs `_default_source()` even when the flag names its source, and that walks
`inspect.stack()`: the whole stack with five lines of source context per frame, read from the
files. Under a Dagster step the stack is deep, and each dbt invocation makes the adapter again
(dbt/runner.py runs ten a day in one process): 22 walks a day-run, ~3 % of its time in a
cProfile of it, for a name that is only shown in a deprecation message.

The walk below returns the same module name from the frames alone, without reading any file."""

from __future__ import annotations

import inspect
import sys

from dbt_common import behavior_flags


def _first_caller_outside_dbt_common() -> str:
    """What `BehaviorFlagRendered._default_source` returns: the module of the nearest frame
    that is not dbt_common.behavior_flags' own."""
    frame = sys._getframe(1)
    while frame is not None:
        module = inspect.getmodule(frame)
        if module is not None and module.__name__ != behavior_flags.__name__:
            return module.__name__
        frame = frame.f_back
    return "Unknown"


def install() -> None:
    behavior_flags.BehaviorFlagRendered._default_source = staticmethod(  # type: ignore[method-assign]
        _first_caller_outside_dbt_common
    )
