"""Handlers of `wdc contracts sync` and `wdc new-product` (registered through
governance/cli.py). Bad input ends with one ERROR line and exit code 2."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb

from wdc_orchestration.console.parser import existing_dir, existing_file
from wdc_orchestration.governance.descriptor import DOMAINS_DIR, DescriptorError
from wdc_orchestration.settings import DBT_PROJECT_DIR

log = logging.getLogger("wdc_orchestration.governance")


def _shown(path: Path) -> str:
    """A path relative to the working directory when it is under it (shorter in a report)."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def contracts_sync(args: argparse.Namespace) -> int:
    """Write the contract part of the dbt YAML from the descriptors (`--check`: only report)."""
    from wdc_orchestration.governance.contract_sync import sync_contracts
    from wdc_orchestration.governance.descriptor import load_descriptors

    try:
        descriptors = load_descriptors(args.domains_dir)
    except (DescriptorError, OSError) as error:
        log.error("cannot read the descriptors: %s", error)
        return 2
    if args.product:
        unknown = sorted(set(args.product) - set(descriptors))
        if unknown:
            log.error("unknown product(s) %s (products: %s)", unknown, ", ".join(descriptors))
            return 2
        descriptors = {p: descriptors[p] for p in args.product}
    if not args.dbt_project_dir.is_dir():
        log.error("no dbt project at %s", args.dbt_project_dir)
        return 2
    changed = sync_contracts(descriptors.values(), args.dbt_project_dir, write=not args.check)
    verb = "out of date: " if args.check else "wrote "
    sys.stdout.writelines(verb + _shown(path) + "\n" for path in changed)
    if args.check and changed:
        log.error(
            "%d dbt YAML file(s) differ from the descriptors: run `wdc contracts sync`",
            len(changed),
        )
        return 1
    log.info("%d product(s): the dbt YAML says what the descriptors say", len(descriptors))
    return 0


def _manifest(args: argparse.Namespace) -> dict[str, Any]:
    if args.manifest:
        return json.loads(args.manifest.read_text())
    if args.dbt_project_dir.resolve() != DBT_PROJECT_DIR.resolve():
        target = args.dbt_project_dir / "target" / "manifest.json"
        if not target.exists():
            raise FileNotFoundError(f"no {target}: run `dbt parse` there or give --manifest")
        return json.loads(target.read_text())
    from wdc_orchestration.dbt.project import load_manifest

    return load_manifest()


def _lakehouse_connect():
    """A function opening a read-only lakehouse connection; None when there is no catalog."""
    from wdc_orchestration.dbt.duckdb_plugins.session import set_read_sets
    from wdc_orchestration.raw.read_set import landed_sources, read_sets
    from wdc_orchestration.resources.lake import lake_storage_from_settings
    from wdc_orchestration.resources.lakehouse import lakehouse_from_settings
    from wdc_orchestration.settings import get_settings

    settings = get_settings()
    catalog = settings.ducklake_catalog
    if catalog.startswith("sqlite:") and not Path(catalog.removeprefix("sqlite:")).exists():
        return None
    lakehouse = lakehouse_from_settings(settings).model_copy(update={"read_only": True})

    @contextmanager
    def connect() -> Iterator[duckdb.DuckDBPyConnection]:
        # A staging view reads its raw files through the read-set session variables the dbt
        # plugin sets (raw/read_set.py): set them as a plain dbt run would (every landed day),
        # or describing the view fails on a NULL file list.
        lake = lake_storage_from_settings(settings)
        with lakehouse.get_connection() as conn:
            set_read_sets(conn, read_sets(lake, landed_sources(lake), None))
            yield conn

    return connect


def new_product_command(args: argparse.Namespace) -> int:
    """Make a private model a draft product: descriptor, model and dbt YAML, TODOs named."""
    from wdc_orchestration.governance.new_product import NewProductError, new_product

    try:
        manifest = _manifest(args)
        written = new_product(
            args.domain,
            args.name,
            args.model,
            manifest,
            args.domains_dir,
            args.dbt_project_dir,
            _lakehouse_connect(),
        )
    except (NewProductError, DescriptorError, OSError, ValueError) as error:
        log.error("cannot create product %s.%s: %s", args.domain, args.name, error)
        return 2
    sys.stdout.writelines(f"wrote {_shown(path)}\n" for path in written)
    log.info(
        "%s.%s is a draft: fill in the TODOs of its descriptor (classifications, allowed "
        "consumers, SLA), then `wdc contracts sync` and `wdc policy check`",
        args.domain,
        args.name,
    )
    return 0


def _paths(parser: argparse.ArgumentParser, contracts: bool = True) -> None:
    """--domains-dir (with contracts in it, unless the command writes the first), checked while
    parsing: a typo is one line, not a sync of nothing. The dbt project: by the handlers."""
    from wdc_orchestration.governance.cli import contracts_dir

    parser.add_argument(
        "--domains-dir",
        type=contracts_dir if contracts else existing_dir,
        default=DOMAINS_DIR,
        help="where the descriptors live",
    )
    parser.add_argument(
        "--dbt-project-dir", type=Path, default=DBT_PROJECT_DIR, help="the dbt project"
    )


def contracts_diff(args: argparse.Namespace) -> int:
    """Each product's working contract against its published one; exit 1 when the versioning
    policy refuses a change (what it demands is printed)."""
    from wdc_orchestration.governance.contract_diff import diff_contract, format_text
    from wdc_orchestration.governance.descriptor import descriptor_paths, load_descriptor
    from wdc_orchestration.resources.lake import lake_storage_from_settings
    from wdc_orchestration.settings import get_settings

    try:
        working = [(load_descriptor(path), path) for path in descriptor_paths(args.domains_dir)]
    except (DescriptorError, OSError) as error:
        log.error("cannot read the descriptors: %s", error)
        return 2
    wanted = set(args.product or [])
    unknown = wanted - {d.id for d, _ in working}
    if unknown:
        log.error("--product: no such product %s", ", ".join(sorted(unknown)))
        return 2
    lake = lake_storage_from_settings(get_settings())
    diffs = [diff_contract(lake, d, path) for d, path in working if not wanted or d.id in wanted]
    if args.format == "json":
        sys.stdout.write(json.dumps([d.to_json() for d in diffs], indent=2) + "\n")
    else:
        sys.stdout.write(format_text(diffs))
    return 0 if all(d.ok for d in diffs) else 1


def register(commands: argparse._SubParsersAction) -> None:
    """Add `contracts sync` and `new-product` to the `wdc` command."""
    contracts = commands.add_parser("contracts", help="the data contracts (descriptors)")
    sub = contracts.add_subparsers(dest="contracts_command", required=True)
    sync = sub.add_parser(
        "sync",
        help="write the contract part of the dbt YAML from the descriptors",
        description="Write each product's description, access/contract/group config and columns "
        "(name, description, data_type, classification/privacy meta) into its dbt YAML from "
        "domains/<domain>/products/<product>.yaml; tests and constraints are kept.",
    )
    sync.add_argument("--check", action="store_true", help="write nothing; exit 1 if out of date")
    sync.add_argument(
        "--product", action="append", help="only this product (<domain>.<name>; repeatable)"
    )
    _paths(sync)
    sync.set_defaults(handler=contracts_sync)
    diff = sub.add_parser(
        "diff",
        help="the working contracts against the published ones: breaking or not, what the "
        "versioning policy demands",
        description="Compare each product's descriptor with the contract published beside its "
        "highest file port (products/<d>/<p>/v<major>/): datacontract-cli's changelog, the "
        "breaking and non-breaking changes, and the versioning policy's verdict. Exit 1 when the "
        "policy refuses a change.",
    )
    diff.add_argument(
        "--product", action="append", help="only this product (<domain>.<name>; repeatable)"
    )
    diff.add_argument("--format", choices=["text", "json"], default="text")
    diff.add_argument(
        "--domains-dir", type=existing_dir, default=DOMAINS_DIR, help="where the descriptors live"
    )
    diff.set_defaults(handler=contracts_diff, touches_lake=True)

    new = commands.add_parser(
        "new-product",
        help="turn a private dbt model into a draft data product",
        description="Write domains/DOMAIN/products/NAME.yaml (an ODCS contract from MODEL's "
        "columns, TODO where the owner decides), models/DOMAIN/marts/NAME.sql and its dbt YAML "
        "(access public, contract enforced, group). `wdc policy check` names the TODOs.",
    )
    new.add_argument("domain", metavar="DOMAIN", help="the domain that owns MODEL")
    new.add_argument("name", metavar="NAME", help="the product's name (snake_case)")
    new.add_argument(
        "--from", dest="model", metavar="MODEL", required=True, help="the private dbt model"
    )
    new.add_argument(
        "--manifest", type=existing_file, help="a dbt manifest.json (default: the project's)"
    )
    _paths(new, contracts=False)
    new.set_defaults(handler=new_product_command)
