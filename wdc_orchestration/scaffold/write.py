"""Scaffold a domain: check everything, render everything, then write it all (or nothing).

Every refusal comes before the first write; the files are rendered in memory first. A write that
fails half-way (a full disk, a permission) is undone: the domain's two new folders are removed and
the edited project files get their old text back."""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

from wdc_orchestration.scaffold.names import (
    DomainNames,
    NewDomainError,
    check_name,
    check_owner,
    check_team,
    where_taken,
)
from wdc_orchestration.scaffold.project_files import edited_files
from wdc_orchestration.scaffold.render import Owner, new_files

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Scaffold:
    """What scaffolding a domain writes, relative to the project root."""

    names: DomainNames
    created: dict[Path, str]  # new files -> text
    edited: dict[Path, tuple[str, str]]  # project files -> (text before, text after)

    @property
    def new_folders(self) -> list[Path]:
        return [Path("domains") / self.names.domain, Path("dbt_project/models") / self.names.domain]


def plan_domain(name: str, team: str, owner: str, root: Path) -> Scaffold:
    """Everything the domain needs, rendered; NewDomainError (nothing written) when it cannot be."""
    names = check_name(name)
    taken = where_taken(names, root)
    if taken:
        raise NewDomainError(f"{name!r} exists already: {'; '.join(taken)}")
    domain_owner = Owner(check_team(team), check_owner(owner))
    return Scaffold(names, new_files(names, domain_owner), edited_files(root, names))


def write_scaffold(scaffold: Scaffold, root: Path) -> list[Path]:
    """Write the planned files; the paths written (new ones, then the edited project files)."""
    written: list[Path] = []
    try:
        for path, text in scaffold.created.items():
            (root / path).parent.mkdir(parents=True, exist_ok=True)
            (root / path).write_text(text)
            written.append(path)
        for path, (_, after) in scaffold.edited.items():
            (root / path).write_text(after)
            written.append(path)
    except OSError:
        log.error("writing the domain %s failed: undoing what was written", scaffold.names.domain)
        for folder in scaffold.new_folders:
            shutil.rmtree(root / folder, ignore_errors=True)
        for path, (before, _) in scaffold.edited.items():
            if path in written:
                (root / path).write_text(before)
        raise
    log.info("scaffolded the domain %s: %d files", scaffold.names.domain, len(written))
    return written


def new_domain(name: str, team: str, owner: str, root: Path) -> Scaffold:
    """`wdc new-domain`: check, render, write; what was written, relative to `root`."""
    scaffold = plan_domain(name, team, owner, root)
    write_scaffold(scaffold, root)
    return scaffold
