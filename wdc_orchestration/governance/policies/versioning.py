"""Versioning: the current contract against the last published one (the contract written beside
the product's Parquet port). A breaking change (a column removed or renamed, a type narrowed or
changed, a required column made optional) needs a major version bump, which publishes a new
`v<major>/` port while the previous major stays until its deprecation date."""

from __future__ import annotations

from wdc_orchestration.governance.descriptor import ProductDescriptor
from wdc_orchestration.governance.types import narrowing
from wdc_orchestration.governance.violations import Violation


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def breaking_changes(old: ProductDescriptor, new: ProductDescriptor) -> list[str]:
    """What breaks a consumer of `old` when it reads `new`, one line per column."""
    changes = []
    new_columns = {c.name: c for c in new.columns}
    old_names = {c.name for c in old.columns}
    added = [c for c in new.columns if c.name not in old_names]
    for column in old.columns:
        current = new_columns.get(column.name)
        if current is None:
            same_type = [
                c.name for c in added if narrowing(column.physical_type, c.physical_type) is None
            ]
            hint = f" (renamed to {' or '.join(same_type)}?)" if same_type else ""
            changes.append(f"column {column.name} removed{hint}")
            continue
        why = narrowing(column.physical_type, current.physical_type)
        if why:
            changes.append(f"column {column.name} {why}")
        if column.required and not current.required:
            changes.append(f"column {column.name} is no longer required (may now be null)")
        if column.privacy != current.privacy:
            changes.append(
                f"column {column.name} privacy changed {column.privacy} -> {current.privacy}"
                " (its values change meaning)"
            )
    return changes


def check_versioning(
    current: ProductDescriptor, published: ProductDescriptor | None
) -> list[Violation]:
    if published is None:
        return []
    found: list[Violation] = []
    path = f"domains/{current.domain}/products/{current.name}.yaml"
    if current.major < published.major or (
        current.major == published.major and _version(current.version) < _version(published.version)
    ):
        found.append(
            Violation(
                current.id,
                "versioning.version_went_back",
                f"version {current.version} is below the published {published.version}",
                f"set version in {path} to {published.version} or later",
            )
        )
        return found
    breaking = breaking_changes(published, current)
    if breaking and current.major == published.major:
        found.append(
            Violation(
                current.id,
                "versioning.breaking_change_without_major_bump",
                f"{'; '.join(breaking)} — consumers of v{published.major} "
                f"({published.version}) would break",
                f"restore the column(s), or bump version to {published.major + 1}.0.0, set the "
                f"files server's path to .lake/products/{current.domain}/{current.name}/"
                f"v{published.major + 1}/ and the custom property deprecation: "
                f"{{previousMajor: {published.major}, until: <date>}} in {path}",
            )
        )
    elif (
        current.major == published.major
        and current.version == published.version
        and [c.schema_signature() for c in current.columns]
        != [c.schema_signature() for c in published.columns]
    ):
        found.append(
            Violation(
                current.id,
                "versioning.change_without_version_bump",
                f"the schema changed but the version is still {current.version}",
                f"bump the minor version (additive change) in {path}",
            )
        )
    if current.major > published.major:
        deprecation = current.deprecation
        if deprecation is None or deprecation.previous_major != published.major:
            found.append(
                Violation(
                    current.id,
                    "versioning.deprecation_missing",
                    f"major {current.major} replaces v{published.major} without a deprecation date",
                    f"set the custom property deprecation: {{previousMajor: {published.major}, "
                    f"until: <date>}} in {path}; v{published.major} stays published until then",
                )
            )
    return found
