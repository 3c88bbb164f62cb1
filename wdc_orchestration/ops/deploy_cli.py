"""`wdc instance` and `wdc grpc-workspace` (registered in wdc_orchestration.cli): the two files a
production deployment needs from the platform, written without running anything else.

  wdc instance            $DAGSTER_HOME/dagster.yaml for the current settings (SQLite, or
                          PostgreSQL with DAGSTER_PG_*); --print shows it instead (a ConfigMap,
                          a secret store, an image build)
  wdc grpc-workspace      the workspace of `grpc_server` entries, one code server per domain of
                          workspace.yaml; -o writes it (deploy/workspace.grpc.yaml is its output)

Results go to stdout; a bad setting or option is one line and exit 2."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from wdc_orchestration.console.parser import UsageError

log = logging.getLogger("wdc_orchestration.cli")


def instance_command(args: argparse.Namespace) -> int:
    """Write (or print) the Dagster instance's dagster.yaml for the current settings."""
    from wdc_orchestration.mesh.workspace import instance_yaml, write_instance_yaml
    from wdc_orchestration.settings import get_settings

    try:
        text = instance_yaml(os.environ)  # checks DAGSTER_PG_* before anything is written
    except ValueError as error:
        raise UsageError(str(error)) from error
    if args.print:
        sys.stdout.write(text)
        return 0
    home = get_settings().dagster_home
    done = write_instance_yaml(home)
    config = home / "dagster.yaml"
    sys.stdout.write(f"{done} {config}\n")
    storage = "PostgreSQL (DAGSTER_PG_*)" if "postgres_db" in text else "SQLite under DAGSTER_HOME"
    if done == "kept":
        log.warning(
            "%s has no wdc header line: it is yours and was left as it is (`wdc instance "
            "--print` shows what wdc would write)",
            config,
        )
    else:
        log.info("the instance's storage: %s; run with DAGSTER_HOME=%s", storage, home)
    return 0


def grpc_workspace_command(args: argparse.Namespace) -> int:
    """Print (or write) the workspace of gRPC code servers, one per domain."""
    from wdc_orchestration.ops.deploy import code_servers, grpc_workspace_yaml, write_grpc_workspace

    try:
        servers = code_servers(host=args.host, first_port=args.first_port)
    except ValueError as error:
        raise UsageError(f"--first-port: {error}") from error
    if args.output is None:
        sys.stdout.write(grpc_workspace_yaml(servers))
        return 0
    path = write_grpc_workspace(args.output.resolve(), servers)
    sys.stdout.write(f"wrote {path}\n")
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    """Add `instance` and `grpc-workspace` to the `wdc` command."""
    from wdc_orchestration.ops.deploy import DEFAULT_HOST, FIRST_PORT

    instance = commands.add_parser(
        "instance",
        help="write $DAGSTER_HOME/dagster.yaml for the current settings",
        description="Write the Dagster instance's dagster.yaml (the one `wdc materialize` and "
        "`wdc dev` use) into DAGSTER_HOME for the current settings, without running anything: "
        "SQLite under DAGSTER_HOME, or PostgreSQL when DAGSTER_PG_HOST is set (env: references, "
        "no values). A dagster.yaml without wdc's header line is left as it is.",
    )
    instance.add_argument(
        "--print",
        action="store_true",
        help="print the file on stdout instead of writing it",
    )
    instance.set_defaults(handler=instance_command)

    grpc = commands.add_parser(
        "grpc-workspace",
        help="the workspace of gRPC code servers, one per domain",
        description="A workspace file of `grpc_server` entries, one per code location of "
        "workspace.yaml in its order, on consecutive ports, each under the `dagster api grpc` "
        "command that serves it. Printed, or written with -o (deploy/workspace.grpc.yaml is "
        "`-o deploy/workspace.grpc.yaml`).",
    )
    grpc.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help="where the servers are reached; {location} is replaced by the domain, e.g. "
        f"'wdc-{{location}}' for one service per domain (default {DEFAULT_HOST})",
    )
    grpc.add_argument(
        "--first-port",
        type=int,
        default=FIRST_PORT,
        help=f"the first domain's port; the others follow (default {FIRST_PORT})",
    )
    grpc.add_argument("-o", "--output", type=Path, help="write the file here instead of stdout")
    grpc.set_defaults(handler=grpc_workspace_command)
