"""`wdc portal`: serve the data-product portal (registered in wdc_orchestration.cli)."""

from __future__ import annotations

import argparse


def portal(args: argparse.Namespace) -> int:
    from wdc_portal.app import serve

    serve(host=args.host, port=args.port, dagster_url=args.dagster_url)
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    """Add `portal` to the `wdc` command."""
    from wdc_orchestration.console.parser import port
    from wdc_portal.context import DEFAULT_DAGSTER_URL

    parser = commands.add_parser("portal", help="serve the data-product portal (Taipy)")
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on")
    parser.add_argument("--port", type=port, default=8050, help="port to listen on")
    parser.add_argument(
        "--dagster-url",
        default=DEFAULT_DAGSTER_URL,
        help="the Dagster UI the portal links runs to (wdc dev serves it on port 3000)",
    )
    parser.set_defaults(handler=portal, touches_lake=True)
