"""`wdc contracts diff`: the working contracts of a copy of the project's descriptors against the
contracts published on a lake (here the repository's own contracts, put where a file port keeps
them: `products/<d>/<p>/v<major>/`, pointed at by `current.json`).

- nothing changed: every product says `unchanged`, exit 0;
- `unit_count` renamed to `units_count` at the same version: the rename is breaking (named as a
  rename), datacontract-cli's changelog lists the removed and the added column, the versioning
  policy demands the major bump (exit 1);
- the same rename at 2.0.0 with its `v2/` port and deprecation window: a new major, exit 0;
- an added column at a minor bump: non-breaking, compatible, exit 0."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from wdc_orchestration.governance.descriptor import DOMAINS_DIR, descriptor_paths, load_descriptor
from wdc_orchestration.settings import environment, isolated_lake_env

PRODUCT = "sales.fct_orders"


def _published_lake(root: Path) -> None:
    """Every repository contract as the current snapshot of its major on a lake under `root`."""
    for path in descriptor_paths(DOMAINS_DIR):
        d = load_descriptor(path)
        port = root / "lake/products" / d.domain / d.name / f"v{d.major}"
        snapshot = port / "snapshots/20261101T000000Z-test"
        snapshot.mkdir(parents=True)
        shutil.copy(path, snapshot / "contract.yaml")
        pointer = {
            "snapshot": "snapshots/20261101T000000Z-test/",
            "contract": "snapshots/20261101T000000Z-test/contract.yaml",
            "files": [],
        }
        (port / "current.json").write_text(json.dumps(pointer))


def _working_copy(root: Path) -> Path:
    domains = root / "domains"
    for path in descriptor_paths(DOMAINS_DIR):
        target = domains / path.relative_to(DOMAINS_DIR)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target)
    return domains


def _edit(domains: Path, edit: Any) -> None:
    path = domains / "sales/products/fct_orders.yaml"
    data = yaml.safe_load(path.read_text())
    edit(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))


def _rename(data: dict[str, Any]) -> None:
    column = next(c for c in data["schema"][0]["properties"] if c["name"] == "unit_count")
    column["name"] = "units_count"


def _bump(data: dict[str, Any]) -> None:
    _rename(data)
    data["version"] = "2.0.0"
    files = next(s for s in data["servers"] if s["server"] == "files")
    files["path"] = files["path"].replace("/v1/", "/v2/")
    data.setdefault("customProperties", []).append(
        {"property": "deprecation", "value": {"previousMajor": 1, "until": "2027-03-31"}}
    )


def _add_column(data: dict[str, Any]) -> None:
    data["version"] = "1.1.0"
    data["schema"][0]["properties"].append(
        {
            "name": "gift_wrap",
            "logicalType": "boolean",
            "physicalType": "boolean",
            "description": "Whether the order was gift-wrapped.",
            "classification": "internal",
        }
    )


def _diff(root: Path, domains: Path, capsys: pytest.CaptureFixture[str], *extra: str):
    from wdc_orchestration.cli import main

    with environment(isolated_lake_env(root)):
        code = main(["contracts", "diff", "--domains-dir", str(domains), *extra])
    return code, capsys.readouterr().out


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, Path]:
    _published_lake(tmp_path)
    return tmp_path, _working_copy(tmp_path)


def test_nothing_changed_says_unchanged(
    project: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    root, domains = project
    code, out = _diff(root, domains, capsys, "--format", "json")
    assert code == 0
    found = {d["product"]: d for d in json.loads(out)}
    assert found[PRODUCT]["verdict"] == "unchanged"
    assert all(d["breaking"] == [] and d["demands"] == [] for d in found.values())


def test_a_rename_at_the_same_major_is_breaking_and_demands_the_bump(
    project: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    root, domains = project
    _edit(domains, _rename)
    code, out = _diff(root, domains, capsys, "--product", PRODUCT, "--format", "json")
    assert code == 1
    (diff,) = json.loads(out)
    assert diff["breaking"] == ["column unit_count removed (renamed to units_count?)"]
    changes = {(e["path"], e["change"]) for e in diff["changelog"]}
    assert ("schema.fct_orders.properties.unit_count", "removed") in changes
    assert ("schema.fct_orders.properties.units_count", "added") in changes
    (demand,) = diff["demands"]
    assert demand["rule"] == "versioning.breaking_change_without_major_bump"
    assert "bump version to 2.0.0" in demand["fix"]
    code, text = _diff(root, domains, capsys, "--product", PRODUCT)
    assert code == 1
    assert "breaking:     column unit_count removed (renamed to units_count?)" in text
    assert "versioning.breaking_change_without_major_bump" in text


def test_the_same_rename_at_a_new_major_is_accepted(
    project: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    root, domains = project
    _edit(domains, _bump)
    code, out = _diff(root, domains, capsys, "--product", PRODUCT, "--format", "json")
    assert code == 0, out
    (diff,) = json.loads(out)
    assert diff["published_version"] == "1.0.1" and diff["working_version"] == "2.0.0"
    assert diff["breaking"]  # still breaking for a reader of v1, which is why v1 stays
    assert diff["demands"] == []
    assert diff["verdict"].startswith("a new major: v2/")


def test_an_added_column_at_a_minor_bump_is_compatible(
    project: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    root, domains = project
    _edit(domains, _add_column)
    code, out = _diff(root, domains, capsys, "--product", PRODUCT, "--format", "json")
    assert code == 0, out
    (diff,) = json.loads(out)
    assert diff["breaking"] == [] and diff["non_breaking"] == ["column gift_wrap added"]
    assert diff["verdict"] == "compatible: consumers of the published major keep working"


def test_an_unknown_product_is_refused(
    project: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    root, domains = project
    code, _ = _diff(root, domains, capsys, "--product", "sales.no_such")
    assert code == 2
