"""`wdc contracts diff`: each product's working contract against the contract its consumers read
now (the one published beside its highest file port, `products/<d>/<p>/v<major>/`), before the
change reaches a run.

A producer about to change a product wants three answers at once: what changed, which of the
changes break a consumer, and what the versioning policy then demands (a minor bump, or a major
with its new port and deprecation window). The field-by-field changelog is datacontract-cli's
(`DataContract.changelog`, what `datacontract changelog` prints), not rewritten here; breaking vs
non-breaking and the demand are the platform's own versioning policy (`policies/versioning.py`),
the very rules the audit gate applies at publish time, so the diff and the run cannot disagree."""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wdc_orchestration.governance.descriptor import ProductDescriptor, parse_descriptor
from wdc_orchestration.governance.policies.versioning import breaking_changes, check_versioning
from wdc_orchestration.governance.publishing import product_prefix, published_majors, read_pointer
from wdc_orchestration.governance.violations import Violation
from wdc_orchestration.resources.lake import LakeStorage
from wdc_orchestration.yamlio import load_yaml

log = logging.getLogger(__name__)


@dataclass
class ContractDiff:
    product: str
    working_version: str
    published_version: str | None  # None: never published (nothing to compare with)
    breaking: list[str] = field(default_factory=list)
    non_breaking: list[str] = field(default_factory=list)
    changelog: list[dict[str, str | None]] = field(default_factory=list)  # datacontract's
    violations: list[Violation] = field(default_factory=list)  # what the policy demands

    @property
    def ok(self) -> bool:
        return not self.violations

    def verdict(self) -> str:
        """One line: what the versioning policy says about the change."""
        if self.published_version is None:
            return "not published yet: any change is free until the first publication"
        if self.violations:
            return "refused by the versioning policy"
        if not self.changelog:
            return "unchanged"
        published_major = int(self.published_version.split(".")[0])
        working_major = int(self.working_version.split(".")[0])
        if working_major > published_major:
            return (
                f"a new major: v{working_major}/ is a new port and relation; v{published_major} "
                "stays published until its deprecation date"
            )
        if self.breaking:
            return "refused by the versioning policy"
        return "compatible: consumers of the published major keep working"

    def to_json(self) -> dict[str, Any]:
        return {
            "product": self.product,
            "published_version": self.published_version,
            "working_version": self.working_version,
            "breaking": self.breaking,
            "non_breaking": self.non_breaking,
            "changelog": self.changelog,
            "verdict": self.verdict(),
            "demands": [{"rule": v.rule, "why": v.why, "fix": v.fix} for v in self.violations],
        }


def _published_bytes(lake: LakeStorage, d: ProductDescriptor) -> bytes | None:
    """The contract of the current snapshot of the product's highest published major."""
    majors = published_majors(lake, d.domain, d.name)
    if not majors:
        return None
    pointer = read_pointer(lake, d.domain, d.name, majors[-1])
    if pointer is None:
        return None
    return lake.read_bytes(product_prefix(d.domain, d.name, majors[-1]) + pointer["contract"])


def _changelog(published: bytes, working: Path) -> list[dict[str, str | None]]:
    """datacontract-cli's changelog summary (one entry per changed element), offline: no
    reference is resolved over the network."""
    from datacontract.data_contract import DataContract

    # datacontract logs "Importing ODCS v3" at INFO for each file: noise in a report
    quiet = logging.getLogger("datacontract")
    level = quiet.level
    quiet.setLevel(logging.WARNING)
    try:
        with tempfile.TemporaryDirectory(prefix="wdc-diff-") as scratch:
            before = Path(scratch) / "published.yaml"
            before.write_bytes(published)
            result = DataContract(
                data_contract_file=str(before), inline_references=False
            ).changelog(DataContract(data_contract_file=str(working), inline_references=False))
    finally:
        quiet.setLevel(level)
    details = {(e.path, e.type.value): e for e in result.entries}
    entries = []
    for entry in result.summary:
        detail = details.get((entry.path, entry.type.value))
        entries.append(
            {
                "path": entry.path,
                "change": entry.type.value,
                "old": detail.old_value if detail else None,
                "new": detail.new_value if detail else None,
            }
        )
    return entries


def diff_contract(lake: LakeStorage, working: ProductDescriptor, path: Path) -> ContractDiff:
    """The working descriptor `working` (read from `path`) against its published contract."""
    raw = _published_bytes(lake, working)
    diff = ContractDiff(working.id, working.version, None)
    if raw is None:
        return diff
    published = parse_descriptor(load_yaml(raw), f"published {working.id}")
    diff.published_version = published.version
    diff.breaking = breaking_changes(published, working)
    old = {c.name for c in published.columns}
    diff.non_breaking = [f"column {c.name} added" for c in working.columns if c.name not in old]
    diff.changelog = _changelog(raw, path)
    diff.violations = check_versioning(working, published)
    return diff


def format_text(diffs: list[ContractDiff]) -> str:
    lines = []
    for d in diffs:
        published = d.published_version or "never published"
        lines.append(
            f"{d.product}: published {published} -> working {d.working_version}: {d.verdict()}"
        )
        lines += [f"  breaking:     {change}" for change in d.breaking]
        lines += [f"  non-breaking: {change}" for change in d.non_breaking]
        for entry in d.changelog:
            values = ""
            if entry["old"] is not None or entry["new"] is not None:
                values = f" ({entry['old']} -> {entry['new']})"
            lines.append(f"  {entry['change']:<8} {entry['path']}{values}")
        lines += [f"  {v.rule}: {v.why} -> fix: {v.fix}" for v in d.violations]
    return "\n".join(lines) + "\n"
