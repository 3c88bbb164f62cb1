"""The project files a new domain is added to: dbt_project.yml (its model folder's config),
workspace.yaml (its code location), and when they exist dg.toml (its dg project) and
deploy/workspace.grpc.yaml (its gRPC code server).

Each is edited as text, so its comments stay, and the result is read back: it must be the old
file's data plus exactly the new entry, else nothing is written (a layout this code does not
expect is an error, never a silently broken file)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from wdc_orchestration.scaffold.names import DomainNames, NewDomainError
from wdc_orchestration.scaffold.render import render
from wdc_orchestration.yamlio import load_yaml

DBT_PROJECT = Path("dbt_project/dbt_project.yml")
WORKSPACE = Path("workspace.yaml")
DG_WORKSPACE = Path("dg.toml")
GRPC_WORKSPACE = Path("deploy/workspace.grpc.yaml")


def _end_of_block(lines: list[str], start: int) -> int:
    """The index after the last line of the top-level block that starts at `start`."""
    end = len(lines)
    for index in range(start + 1, len(lines)):
        line = lines[index]
        if line.strip() and not line.startswith((" ", "#")):
            end = index
            break
    # before the blank lines and top-level comments that lead to the next block
    while end > start + 1 and (not lines[end - 1].strip() or lines[end - 1].startswith("#")):
        end -= 1
    return end


def _read_back(path: Path, text: str) -> Any:
    try:
        return load_yaml(text)
    except yaml.YAMLError as error:
        why = " ".join(str(error).split())  # one line
        raise NewDomainError(f"adding the domain would break {path}: {why}") from error


def dbt_project_text(before: str, names: DomainNames) -> str:
    """dbt_project.yml with the domain's folder config (group, schema, tags, materialisations)
    at the end of the project's `models:` block."""
    lines = before.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    start = next((i for i, line in enumerate(lines) if line.rstrip() == "models:"), None)
    if start is None:
        raise NewDomainError(f"{DBT_PROJECT} has no top-level `models:` block to add the domain to")
    end = _end_of_block(lines, start)
    block = render("dbt_project_block.yml.tmpl", names)
    after = "".join([*lines[:end], block, *lines[end:]])
    old, new = load_yaml(before), _read_back(DBT_PROJECT, after)
    project = old.get("name", "wdc")
    expected = load_yaml(f"block:{block}")["block"][names.domain]
    added = (new.get("models") or {}).get(project, {}).pop(names.domain, None)
    if added != expected or new != old:
        raise NewDomainError(
            f"cannot add the domain to {DBT_PROJECT}: its `models: {project}:` block is not laid "
            "out as expected (add the folder config by hand, as for the other domains)"
        )
    return after


def workspace_text(before: str, names: DomainNames) -> str:
    """workspace.yaml with the domain's code location as the last entry."""
    unexpected = NewDomainError(
        f"cannot add the code location to {WORKSPACE}: its `load_from:` list is not the last "
        "block of the file (add the entry by hand, as for the other domains)"
    )
    top_level = [line for line in before.splitlines() if line[:1] not in ("", " ", "#")]
    if not top_level or top_level[-1].rstrip() != "load_from:":
        raise unexpected
    entry = render("workspace_entry.yaml.tmpl", names)
    after = before + ("" if before.endswith("\n") else "\n") + entry
    old, new = load_yaml(before), _read_back(WORKSPACE, after)
    added = new["load_from"].pop() if isinstance(new.get("load_from"), list) else None
    expected = load_yaml(f"load_from:\n{entry}")["load_from"][0]
    if added != expected or new != old:
        raise unexpected
    return after


def dg_workspace_text(before: str, names: DomainNames) -> str:
    """dg.toml with the domain's project as the last entry of `projects`."""
    last = before.rfind("]")
    entry = f'  {{ path = "domains/{names.domain}" }},\n'
    if last == -1 or "projects = [" not in before:
        raise NewDomainError(f"cannot add the dg project to {DG_WORKSPACE} (add it by hand)")
    return before[:last] + entry + before[last:]


def grpc_workspace_text(before: str, names: DomainNames) -> str:
    """deploy/workspace.grpc.yaml with the domain's code server after the others (next port)."""
    from wdc_orchestration.ops.deploy import with_code_server

    try:
        return with_code_server(before, names.domain, f"domains.{names.domain}.definitions")
    except ValueError as error:
        raise NewDomainError(
            f"cannot add the code server to {GRPC_WORKSPACE}: {error} (add it by hand, or "
            "regenerate it: wdc grpc-workspace -o deploy/workspace.grpc.yaml)"
        ) from error


def edited_files(root: Path, names: DomainNames) -> dict[Path, tuple[str, str]]:
    """The project files the domain is added to: relative path -> (text before, text after)."""
    edits = {}
    files = [(DBT_PROJECT, dbt_project_text), (WORKSPACE, workspace_text)]
    if (root / DG_WORKSPACE).exists():
        files.append((DG_WORKSPACE, dg_workspace_text))
    if (root / GRPC_WORKSPACE).exists():
        files.append((GRPC_WORKSPACE, grpc_workspace_text))
    for path, edit in files:
        before = (root / path).read_text()
        edits[path] = (before, edit(before, names))
    return edits
