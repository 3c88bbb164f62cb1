"""`wdc portal`: serve the data-product portal; `wdc portal users add|list`: its local accounts
(registered in wdc_orchestration.cli)."""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import sys

from wdc_orchestration.console.parser import UsageError, port
from wdc_orchestration.governance.descriptor import load_descriptors
from wdc_orchestration.settings import get_settings
from wdc_portal import DEFAULT_DAGSTER_URL

log = logging.getLogger(__name__)

PASSWORD_VARIABLE = "WDC_PORTAL_PASSWORD"


def portal(args: argparse.Namespace) -> int:
    # lazy: Taipy, Flask and dagster (~2 s), only for `wdc portal` itself
    from wdc_portal.auth.signin import AuthConfig

    AuthConfig.from_env()  # a bad sign-in setting is one line and exit 2, before Taipy loads
    from wdc_portal.app import serve  # lazy: Taipy (~2 s), after the sign-in settings are checked

    serve(host=args.host, port=args.port, dagster_url=args.dagster_url)
    return 0


def _store():  # noqa: ANN202 - AccountStore, imported late (the CLI's start-up time)
    # lazy: dagster (the lake's storage, ~1 s), only for `portal users`
    from wdc_orchestration.resources.lake import lake_storage_from_settings
    from wdc_portal.auth.accounts import AccountStore

    return AccountStore(lake_storage_from_settings(get_settings()))


def users_add(args: argparse.Namespace) -> int:
    # lazy: dagster (~1 s), only for `portal users add`
    from wdc_portal.auth.accounts import AccountError

    # Never an option (it would sit in the shell's history and `ps`): the environment, a pipe
    # (`--password-stdin`) or a prompt.
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = os.environ.get(PASSWORD_VARIABLE) or getpass.getpass(
            f"password for {args.username}: "
        )
    domains = [d for d in (args.domains or "").split(",") if d.strip()]
    known = {d.domain for d in load_descriptors().values()}
    try:
        account = _store().add(
            args.username, password, domains, name=args.name or "", admin=args.admin,
            known_domains=known, replace=args.replace,
        )  # fmt: skip
    except AccountError as error:
        raise UsageError(str(error)) from None
    domains_text = ", ".join(account.domains) or "none"
    admin = " (admin)" if account.admin else ""
    log.warning("portal user %s: domains %s%s", account.username, domains_text, admin)
    return 0


def users_list(args: argparse.Namespace) -> int:
    for account in _store().list():
        line = f"{account.username}\t{','.join(account.domains) or '-'}\t" + (
            "admin" if account.admin else ""
        )
        sys.stdout.write(line.rstrip("\t") + "\n")
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    """Add `portal` (and `portal users`) to the `wdc` command."""

    parser = commands.add_parser("portal", help="serve the data-product portal (Taipy)")
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on")
    parser.add_argument("--port", type=port, default=8050, help="port to listen on")
    parser.add_argument(
        "--dagster-url",
        default=DEFAULT_DAGSTER_URL,
        help="the Dagster UI the portal links runs to (wdc dev serves it on port 3000)",
    )
    parser.set_defaults(handler=portal, touches_lake=True)
    sub = parser.add_subparsers(dest="portal_command", metavar="{users}")
    users = sub.add_parser("users", help="the portal's local accounts (on the lake)")
    users_sub = users.add_subparsers(dest="users_command", metavar="{add,list}", required=True)
    add = users_sub.add_parser(
        "add",
        help=f"add (or --replace) an account; the password from {PASSWORD_VARIABLE}, "
        "--password-stdin or a prompt",
    )
    add.add_argument("username", help="the user's name (an e-mail works)")
    add.add_argument("--domains", default="", help="comma-separated domains the user belongs to")
    add.add_argument("--name", default="", help="the user's display name")
    add.add_argument("--admin", action="store_true", help="a portal administrator")
    add.add_argument("--replace", action="store_true", help="overwrite an existing account")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    add.set_defaults(handler=users_add, touches_lake=True)
    listing = users_sub.add_parser("list", help="the accounts: name, domains, admin")
    listing.set_defaults(handler=users_list, touches_lake=True)
