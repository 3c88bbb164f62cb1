"""Whether a process of this machine still runs (for state a killed process left behind)."""

from __future__ import annotations

import os


def process_alive(pid: int) -> bool:
    """Whether `pid` runs on this machine (signal 0 checks without signalling)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True
