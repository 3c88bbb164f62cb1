"""workspace.yaml is the one registry of domains: each `load_from` entry is a domain's code
location (location name, module). The other files that list the domains are generated from it,
by `wdc workspace sync` (and checked by `wdc workspace sync --check`, tests/test_dg.py):

  dg.toml                       the dg workspace, one project per domain (written whole)
  domains/<d>/dg.toml           each domain's dg project (written whole)
  deploy/workspace.grpc.yaml    one gRPC code server per domain (ops/deploy.py's generator; an entry
                                is added after the others, keeping the file's host and ports)
  dbt_project/dbt_project.yml   each domain's folder config under `models:` (a missing block is
                                added from the template; one of a domain not listed is refused)

`wdc new-domain` adds the domain to the registry and then runs the same generators on the new
list, so a new domain is one registry entry plus its own folders.

Each file is edited as text, so its comments stay, and the result is read back: it must be the
old file's data plus exactly the new entry, else nothing is written (a layout this code does not
expect is an error, never a silently broken file)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from wdc_orchestration.mesh.registry import registry
from wdc_orchestration.ops.deploy import (
    code_servers,
    grpc_workspace_shape,
    grpc_workspace_yaml,
    with_code_server,
)
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


DG_WORKSPACE_HEADER = """\
# Written by `wdc workspace sync` from workspace.yaml, the registry of domains: the `dg` workspace
# (`uv run dg check defs`, `uv run dg dev`), one dg project per domain, each its own code
# location, all in this repository's one environment with the shared platform package.
# workspace.yaml stays the source for `dagster dev -w workspace.yaml`, `wdc dev` and the mesh.
# Why each domain is set up as it is: docs/architecture.md, "dg".
"""
DG_PROJECT_TEMPLATE = "domain/dg.toml.tmpl"


def domain_folder(module: str) -> Path:
    """`domains/<d>` of the location's module `domains.<d>.definitions`."""
    return Path(*module.split(".")[:-1])


def dg_workspace_text(modules: Mapping[str, str]) -> str:
    """dg.toml: one project per domain of the registry, in its order."""
    projects = "".join(
        f'  {{ path = "{domain_folder(module).as_posix()}" }},\n' for module in modules.values()
    )
    body = f'directory_type = "workspace"\n\n[workspace]\nprojects = [\n{projects}]\n'
    return DG_WORKSPACE_HEADER + body


def dg_project_text(location: str) -> str:
    """domains/<d>/dg.toml: the domain as a dg project whose code location is `location`."""
    return render(DG_PROJECT_TEMPLATE, DomainNames(location))


def grpc_workspace_text(before: str, modules: Mapping[str, str]) -> str:
    """deploy/workspace.grpc.yaml for the registry: unchanged when it lists its domains already;
    the missing ones added after the others (next ports, the others' host) when it lists the
    first ones; else written anew by the generator, with the file's host and first port."""
    try:
        entries, host = grpc_workspace_shape(before)
        listed = [str(entry["location_name"]) for entry in entries]
        wanted = list(modules)
        if listed == wanted[: len(listed)]:
            for location in wanted[len(listed) :]:
                before = with_code_server(before, location, modules[location])
            return before
        first = min(int(entry["port"]) for entry in entries)
        return grpc_workspace_yaml(code_servers(modules, host=host, first_port=first))
    except ValueError as error:
        raise NewDomainError(
            f"cannot add the code server to {GRPC_WORKSPACE}: {error} (add it by hand, or "
            "regenerate it: wdc grpc-workspace -o deploy/workspace.grpc.yaml)"
        ) from error


def dbt_project_synced(before: str, modules: Mapping[str, str]) -> str:
    """dbt_project.yml with a folder config for every domain of the registry (a missing one is
    added at the end of `models:`, from the template); NewDomainError when it configures a domain
    the registry does not list. What a domain's block says is the domain's own (its
    materialisations may differ from the template's): only which domains have one is checked."""
    data = load_yaml(before)
    data = data if isinstance(data, dict) else {}
    blocks = (data.get("models") or {}).get(data.get("name", "wdc")) or {}
    configured = {k for k, v in blocks.items() if isinstance(v, dict) and "+group" in v}
    extra = sorted(configured - set(modules))
    if extra:
        raise NewDomainError(
            f"{DBT_PROJECT} configures domain folder(s) {extra} that workspace.yaml does not "
            "list (remove them, or add the domains to workspace.yaml)"
        )
    after = before
    for domain in modules:
        if domain not in configured:
            after = dbt_project_text(after, DomainNames(domain))
    return after


def synced_files(root: Path, modules: Mapping[str, str]) -> dict[Path, tuple[str, str]]:
    """The files of `root` generated from the registry `modules`: relative path -> (text now,
    text the registry wants). The gRPC workspace and the dg files only when the project has them
    (a copy may not)."""

    def now(path: Path) -> str | None:
        return (root / path).read_text() if (root / path).exists() else None

    synced: dict[Path, tuple[str, str]] = {}
    before = now(DBT_PROJECT)
    if before is not None:
        synced[DBT_PROJECT] = (before, dbt_project_synced(before, modules))
    before = now(DG_WORKSPACE)
    if before is not None:
        synced[DG_WORKSPACE] = (before, dg_workspace_text(modules))
    before = now(GRPC_WORKSPACE)
    if before is not None:
        synced[GRPC_WORKSPACE] = (before, grpc_workspace_text(before, modules))
    for location, module in modules.items():
        path = domain_folder(module) / "dg.toml"
        before = now(path)
        if before is not None:
            synced[path] = (before, dg_project_text(location))
    return synced


def out_of_step(root: Path) -> list[Path]:
    """The generated files of `root` that differ from what its workspace.yaml wants."""
    modules = registry((root / WORKSPACE).read_text())
    return [path for path, (now, wanted) in synced_files(root, modules).items() if now != wanted]


def edited_files(root: Path, names: DomainNames) -> dict[Path, tuple[str, str]]:
    """The project files the domain is added to: relative path -> (text before, text after).
    The registry first; the others are what its generators make of the new list (the domain's
    own dg.toml is a new file, written with the domain's folder)."""
    before = (root / WORKSPACE).read_text()
    workspace = workspace_text(before, names)
    synced = synced_files(root, registry(workspace))
    edits = {path: synced[path] for path in (DBT_PROJECT,) if path in synced}
    edits[WORKSPACE] = (before, workspace)
    edits |= {p: synced[p] for p in (DG_WORKSPACE, GRPC_WORKSPACE) if p in synced}
    return edits
