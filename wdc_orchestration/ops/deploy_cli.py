"""`wdc instance` and `wdc grpc-workspace` (registered in wdc_orchestration.cli): the two files a
production deployment needs from the platform, written without running anything else.

  wdc instance            $DAGSTER_HOME/dagster.yaml for the current settings (SQLite, or
                          PostgreSQL with DAGSTER_PG_*); --print shows it instead (a ConfigMap,
                          a secret store, an image build)
  wdc grpc-workspace      the workspace of `grpc_server` entries, one code server per domain of
                          workspace.yaml; -o writes it (deploy/workspace.grpc.yaml is its output)
  wdc workspace sync      the files that list the domains, written from workspace.yaml (the
                          registry): dg.toml, domains/<d>/dg.toml, deploy/workspace.grpc.yaml and
                          dbt_project.yml's folder configs; --check writes nothing, exit 1 when
                          any is out of step

Results go to stdout; a bad setting or option is one line and exit 2."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

import yaml

from wdc_orchestration.console.parser import UsageError
from wdc_orchestration.ops.deploy import (
    DEFAULT_HOST,
    FIRST_PORT,
    code_servers,
    grpc_workspace_yaml,
    write_grpc_workspace,
)
from wdc_orchestration.scaffold.names import NewDomainError
from wdc_orchestration.scaffold.project_files import WORKSPACE, registry, synced_files
from wdc_orchestration.settings import PROJECT_ROOT, get_settings

log = logging.getLogger("wdc_orchestration.cli")


def instance_command(args: argparse.Namespace) -> int:
    """Write (or print) the Dagster instance's dagster.yaml for the current settings."""
    # lazy: the mesh (dagster, dbt: ~3 s), only for `wdc instance`
    from wdc_orchestration.mesh.workspace import instance_yaml, write_instance_yaml

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


def workspace_sync_command(args: argparse.Namespace) -> int:
    """Write (or check) the files generated from workspace.yaml, the registry of domains."""
    root = args.project_dir.resolve()
    if not (root / WORKSPACE).is_file():
        raise UsageError(f"--project-dir {root}: no {WORKSPACE} there")
    try:
        modules = registry((root / WORKSPACE).read_text())
    except (KeyError, TypeError, yaml.YAMLError) as error:
        raise UsageError(f"{root / WORKSPACE}: not a workspace of python_module entries") from error
    try:
        synced = synced_files(root, modules)
    except NewDomainError as error:
        raise UsageError(str(error)) from error
    stale = [path for path, (now, wanted) in synced.items() if now != wanted]
    for path in stale:
        if args.check:
            sys.stdout.write(f"out of step {path}\n")
        else:
            (root / path).write_text(synced[path][1])
            sys.stdout.write(f"wrote {path}\n")
    if not stale:
        log.info("%d files in step with %s", len(synced), WORKSPACE)
    elif args.check:
        log.error("out of step with %s: run `wdc workspace sync`", WORKSPACE)
    return 1 if stale and args.check else 0


def register(commands: argparse._SubParsersAction) -> None:
    """Add `instance`, `grpc-workspace` and `workspace sync` to the `wdc` command."""

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

    workspace = commands.add_parser(
        "workspace", help="workspace.yaml, the registry of domains, and the files made from it"
    )
    sub = workspace.add_subparsers(dest="workspace_command", required=True)
    sync = sub.add_parser(
        "sync",
        help="write the files that list the domains from workspace.yaml",
        description="workspace.yaml lists the domains (one code location each); the other files "
        "that list them are written from it: dg.toml, each domains/<d>/dg.toml, "
        "deploy/workspace.grpc.yaml (its host and ports kept) and each domain's folder config in "
        "dbt_project/dbt_project.yml (a missing one added). Prints each file written.",
    )
    sync.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if any file is out of step"
    )
    sync.add_argument(
        "--project-dir", type=Path, default=PROJECT_ROOT, help="the project (default: this one)"
    )
    sync.set_defaults(handler=workspace_sync_command)
