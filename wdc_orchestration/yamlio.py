"""YAML reading for the platform's own files (contracts, retention, workspace)."""

from __future__ import annotations

from typing import Any

import yaml

# libyaml's parser when PyYAML was built with it (the PyPI wheels are): the pure-Python one took
# ~1.5 s of a SF 1 day re-reading the product contracts in the governance checks.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(text: str | bytes) -> Any:
    """`yaml.safe_load`, faster; raises `yaml.YAMLError` on invalid YAML, as it does."""
    return yaml.load(text, Loader=_LOADER)  # a safe loader (CSafeLoader or SafeLoader)
