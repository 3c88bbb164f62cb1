"""Handlers of `wdc policy check|iam|purge` and `wdc catalog` (registered in wdc_orchestration.cli).
They run without Dagster: the dbt manifest, the descriptors and, when it exists, the lakehouse."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import sys
from contextlib import ExitStack
from pathlib import Path

import duckdb

from wdc_orchestration.console.parser import (
    UsageError,
    existing_file,
    iso_date,
    new_file,
)
from wdc_orchestration.governance.descriptor import DOMAINS_DIR, DescriptorError, load_descriptors
from wdc_orchestration.governance.iam import all_policies, write_policies
from wdc_orchestration.governance.product_cli import contracts_dir
from wdc_orchestration.governance.product_cli import register as register_products
from wdc_orchestration.governance.violations import Violation
from wdc_orchestration.mesh.registry import domain_modules
from wdc_orchestration.settings import get_settings

log = logging.getLogger("wdc_orchestration.governance")


def _lake_and_lakehouse(stack: ExitStack, with_data: bool):
    """The lake (None when it does not exist yet) and a read-only lakehouse connection (None
    when there is no catalog yet or data checks are off)."""
    # lazy: dagster and DuckDB (~1 s), only for the commands that open the lake
    from wdc_orchestration.resources.lake import lake_storage_from_settings
    from wdc_orchestration.resources.lakehouse import lakehouse_from_settings

    settings = get_settings()
    lake = lake_storage_from_settings(settings)
    if settings.lake_is_local and not Path(settings.lake_url).is_dir():
        log.info("no lake at %s: data and versioning checks skipped", settings.lake_url)
        return None, None
    conn = None
    catalog = settings.ducklake_catalog
    if not with_data:
        log.info("--no-data: data-level checks skipped")
    elif catalog.startswith("sqlite:") and not Path(catalog.removeprefix("sqlite:")).exists():
        log.info("no lakehouse catalog at %s yet: data-level checks skipped", catalog)
    else:
        lakehouse = lakehouse_from_settings(settings).model_copy(update={"read_only": True})
        conn = stack.enter_context(lakehouse.get_connection())
    return lake, conn


def _require_lake(with_data: bool) -> None:
    """Pointed at a lake that is not there, say so (a wrong WDC_LAKE_URL is not "all is
    well"); checked first, as parsing the dbt project creates the catalog's folder."""

    settings = get_settings()
    if with_data and settings.lake_is_local and not Path(settings.lake_url).is_dir():
        raise FileNotFoundError(
            f"no lake at {settings.lake_url} (WDC_LAKE_URL): run `wdc materialize` first, "
            "or pass --no-data to check the contracts and the code alone"
        )


def _violations(args: argparse.Namespace) -> tuple[list[Violation], dict]:
    # lazy: the policies and publishing load DuckDB and dagster (~1 s): `wdc --help` does not
    from wdc_orchestration.governance.policies import evaluate, load_inputs
    from wdc_orchestration.governance.publishing import published_contract
    from wdc_orchestration.resources.lake import lake_storage_from_settings

    _require_lake(not args.no_data)
    manifest = read_manifest(args.manifest) if args.manifest else None
    # the configured lake's approved access requests (none when it does not exist yet)
    inputs = load_inputs(
        args.domains_dir, manifest, lake=lake_storage_from_settings(get_settings())
    )
    with_data = not args.no_data
    with ExitStack() as stack:
        lake, conn = _lake_and_lakehouse(stack, with_data)
        published = (
            {d.id: published_contract(lake, d.domain, d.name) for d in inputs.descriptors.values()}
            if lake is not None
            else None
        )
        publications = {}
        if conn is not None:
            # lazy: DuckDB, only with a lakehouse connection to list publications on
            from wdc_orchestration.governance.publications import list_publications

            publications = {
                d.id: list_publications(conn, d.domain, d.name) for d in inputs.descriptors.values()
            }
        violations = evaluate(inputs, conn=conn, published=published)
        return violations, {"inputs": inputs, "lake": lake, "publications": publications}


def policy_check(args: argparse.Namespace) -> int:
    """One line per violation on stdout (product: rule: why -> fix); non-zero when any."""
    # lazy: dbt-core (~3 s) through the runner; only `policy check` needs its error type
    from wdc_orchestration.dbt.runner import DbtRunError

    try:
        violations, context = _violations(args)
    except (DescriptorError, duckdb.Error, OSError, ValueError) as error:
        raise UsageError(f"cannot check the policies: {error}") from error
    except DbtRunError as error:
        # the project itself is wrong (e.g. a ref pinned to a major no version serves): one
        # line, the check failed
        log.error("policy check failed: %s", " ".join(str(error.description).split()))
        return 1
    if args.format == "json":
        sys.stdout.write(json.dumps([v.as_dict() for v in violations], indent=2) + "\n")
    else:
        sys.stdout.writelines(v.line() + "\n" for v in violations)
    products = len(context["inputs"].descriptors)
    if violations:
        log.error("%d policy violation(s) in %d product(s)", len(violations), products)
        return 1
    log.info("%d products: every policy passes", products)
    return 0


def catalog(args: argparse.Namespace) -> int:
    # lazy: dagster and DuckDB (~1 s), only for `wdc catalog`
    from wdc_orchestration.governance.catalog import catalog_entries, render

    try:
        violations, context = _violations(args)
    except (DescriptorError, duckdb.Error, OSError, ValueError) as error:
        raise UsageError(f"cannot build the catalog: {error}") from error
    entries = catalog_entries(
        context["inputs"].descriptors, violations, context["lake"], context["publications"]
    )
    text = render(entries, args.format)
    if args.output:
        args.output.write_text(text)
        log.info("catalog written to %s", args.output)
    else:
        sys.stdout.write(text)
    return 0


def policy_iam(args: argparse.Namespace) -> int:
    bucket, prefix = args.bucket, args.prefix
    lake_url = get_settings().lake_url
    if bucket is None and lake_url.startswith("s3://"):
        bucket, _, prefix = lake_url.removeprefix("s3://").partition("/")
    if bucket is None:
        log.error("the lake is not on S3: give --bucket (and --prefix)")
        return 2
    policies = all_policies(domain_modules(), load_descriptors(), bucket, prefix or "")
    if args.output_dir:
        for path in write_policies(policies, args.output_dir):
            log.info("wrote %s", path)
    else:
        sys.stdout.write(json.dumps(policies, indent=2) + "\n")
    return 0


def policy_purge(args: argparse.Namespace) -> int:
    # lazy: dagster and DuckDB (~1 s), only for `policy purge`
    from wdc_orchestration.governance.policies.compliance import load_raw_retention
    from wdc_orchestration.governance.purge import purge_raw
    from wdc_orchestration.resources.lake import lake_storage_from_settings

    lake = lake_storage_from_settings(get_settings())
    today = args.as_of or dt.date.today()
    total = 0
    for domain, retention in sorted(load_raw_retention().items()):
        removed = purge_raw(lake, domain, retention, today, dry_run=args.dry_run)
        for key in removed:
            sys.stdout.write(("would remove " if args.dry_run else "removed ") + key + "\n")
        total += len(removed)
    log.info("%s %d raw file(s) past retention", "found" if args.dry_run else "purged", total)
    return 0


def read_manifest(path: Path) -> dict:
    """A dbt manifest given with --manifest; a file that is not JSON is named in the error."""
    try:
        return json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"--manifest {path}: not a dbt manifest.json ({error})") from error


def _inputs_options(parser: argparse.ArgumentParser) -> None:

    parser.add_argument(
        "--domains-dir", type=contracts_dir, default=DOMAINS_DIR, help="where the descriptors live"
    )
    parser.add_argument(
        "--manifest", type=existing_file, help="a dbt manifest.json (default: parse the project)"
    )


def register(commands: argparse._SubParsersAction) -> None:
    """Add `policy`, `catalog`, `contracts` and `new-product` to the `wdc` command."""
    policy = commands.add_parser("policy", help="federated governance policies")
    sub = policy.add_subparsers(dest="policy_command", required=True)

    check = sub.add_parser("check", help="check every product; one line per violation")
    check.add_argument("--no-data", action="store_true", help="skip the data-level checks")
    check.add_argument("--format", choices=["text", "json"], default="text")
    _inputs_options(check)
    check.set_defaults(handler=policy_check, touches_lake=True)

    iam = sub.add_parser("iam", help="S3 IAM policy documents per domain role")
    iam.add_argument("--bucket", help="bucket (default: from an s3:// WDC_LAKE_URL)")
    iam.add_argument("--prefix", default=None, help="key prefix of the lake in the bucket")
    iam.add_argument("--output-dir", type=Path, help="write wdc-<domain>-role.json files here")
    iam.set_defaults(handler=policy_iam)

    purge = sub.add_parser("purge", help="delete raw personal data past its retention")
    purge.add_argument("--dry-run", action="store_true", help="only list what would go")
    purge.add_argument("--as-of", type=iso_date, help="the day to count retention from")
    purge.set_defaults(handler=policy_purge, touches_lake=True)

    report = commands.add_parser("catalog", help="the data products and their status")
    report.add_argument("--format", choices=["text", "markdown", "json"], default="text")
    report.add_argument("--output", type=new_file, help="write the report to this file")
    report.add_argument("--no-data", action="store_true", help="skip the data-level checks")
    _inputs_options(report)
    report.set_defaults(handler=catalog, touches_lake=True)

    register_products(commands)  # `wdc contracts sync`, `wdc new-product`
