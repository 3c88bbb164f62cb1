"""YAML reading for the platform's own files (contracts, retention, workspace)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

# libyaml's parser when PyYAML was built with it (the PyPI wheels are): the pure-Python one took
# ~1.5 s of a SF 1 day re-reading the product contracts in the governance checks.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(text: str | bytes) -> Any:
    """`yaml.safe_load`, faster; raises `yaml.YAMLError` on invalid YAML, as it does."""
    return yaml.load(text, Loader=_LOADER)  # a safe loader (CSafeLoader or SafeLoader)


class YamlFileError(ValueError):
    """A YAML file that cannot be read, in one line naming the file (and the line when the YAML
    is wrong): PyYAML's own message is four lines with a caret under the column."""


def read_yaml_file(path: Path) -> Any:
    """The YAML document in `path`; YamlFileError when it is not UTF-8 text or not valid YAML."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise YamlFileError(
            f"{path}: not UTF-8 text (byte 0x{error.object[error.start]:02x} at offset "
            f"{error.start}); save it as UTF-8"
        ) from error
    try:
        return load_yaml(text)
    except yaml.YAMLError as error:
        raise YamlFileError(f"{_where(path, error)}: not valid YAML: {_problem(error)}") from error


def _where(path: Path, error: yaml.YAMLError) -> str:
    mark = getattr(error, "problem_mark", None)
    return f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(path)


def _problem(error: yaml.YAMLError) -> str:
    problem = getattr(error, "problem", None)
    context = getattr(error, "context", None)
    if problem:
        return f"{context}, {problem}" if context else problem
    return " ".join(str(error).split())
