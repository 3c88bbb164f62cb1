"""`wdc new-domain NAME --team T --owner EMAIL` (registered in wdc_orchestration.cli). A refusal is
one ERROR line and exit code 2, with nothing written."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from wdc_orchestration.scaffold.names import NewDomainError
from wdc_orchestration.settings import PROJECT_ROOT

log = logging.getLogger("wdc_orchestration.scaffold")


def new_domain_command(args: argparse.Namespace) -> int:
    """Scaffold the domain; print each file written and what to run next."""
    # lazy: the templates' writer (pydantic), only for `new-domain`
    from wdc_orchestration.scaffold.write import new_domain

    root = args.project_dir
    if not (root / "workspace.yaml").is_file() or not (root / "dbt_project").is_dir():
        log.error("cannot create domain %s: %s is not the project's root", args.name, root)
        return 2
    try:
        scaffold = new_domain(args.name, args.team, args.owner, root)
    except (NewDomainError, OSError) as error:
        log.error("cannot create domain %s: %s", args.name, error)
        return 2
    sys.stdout.writelines(f"wrote {path}\n" for path in scaffold.created)
    sys.stdout.writelines(f"updated {path}\n" for path in scaffold.edited)
    log.info(
        "domain %s is ready: `wdc policy check`, then `wdc materialize --domains %s --start "
        "YYYY-MM-DD`; it shows in `wdc dev` as the code location %s. Replace the simulator stub "
        "(domains/%s/simulator.py) and its product with the real ones (docs/architecture.md)",
        args.name,
        args.name,
        args.name,
        args.name,
    )
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    """Add `new-domain` to the `wdc` command."""
    new = commands.add_parser(
        "new-domain",
        help="scaffold a new domain that runs at once",
        description="Write a domain that runs at once: its package (spec and a simulator stub "
        "landing one small deterministic entity), raw retention, dbt folders (source, staging "
        "model, one contracted product), the product's ODCS descriptor, and its entries in "
        "dbt_project.yml, workspace.yaml, dg.toml and deploy/workspace.grpc.yaml. Refuses a "
        "name that exists or is not a valid lowercase snake_case identifier, writing nothing.",
    )
    new.add_argument("name", metavar="NAME", help="the domain's name (lowercase snake_case)")
    new.add_argument("--team", required=True, help='the owning team, e.g. "Time de Marketing"')
    new.add_argument(
        "--owner", required=True, metavar="EMAIL", help="the team's e-mail (the domain's owner)"
    )
    new.add_argument(
        "--project-dir",
        type=Path,
        default=PROJECT_ROOT,
        help="the project to add the domain to (default: this checkout)",
    )
    new.set_defaults(handler=new_domain_command)
