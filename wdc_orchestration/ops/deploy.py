"""The production layout of the code: one gRPC code server per domain (`dagster api grpc`), and the
workspace file the webserver and the daemon load them from (`grpc_server` entries).

The domains and their order come from workspace.yaml, the one list of code locations; the gRPC
workspace is generated from it (`wdc grpc-workspace`), and the copy shipped in
deploy/workspace.grpc.yaml is kept equal to the generator's output by a test."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from wdc_orchestration.mesh.registry import domain_modules
from wdc_orchestration.settings import PROJECT_ROOT
from wdc_orchestration.yamlio import load_yaml

GRPC_WORKSPACE_FILE = PROJECT_ROOT / "deploy" / "workspace.grpc.yaml"
FIRST_PORT = 4000
DEFAULT_HOST = "localhost"
LOCATION_PLACEHOLDER = "{location}"


@dataclass(frozen=True)
class CodeServer:
    """One domain's gRPC code server: where the webserver and the daemon reach it."""

    location: str
    module: str
    host: str
    port: int

    def command(self, bind: str = "0.0.0.0") -> list[str]:  # noqa: S104 - a server's bind address
        """The command that serves the domain (run from the project root)."""
        return [
            "dagster",
            "api",
            "grpc",
            "-m",
            self.module,
            "-h",
            bind,
            "-p",
            str(self.port),
            "--location-name",
            self.location,
        ]


def code_servers(
    modules: Mapping[str, str] | None = None,
    host: str = DEFAULT_HOST,
    first_port: int = FIRST_PORT,
) -> list[CodeServer]:
    """One server per location of workspace.yaml (or `modules`: location -> module), in its order,
    on consecutive ports from `first_port`. `host` may name each location: `wdc-{location}`."""
    if modules is None:
        modules = domain_modules()
    locations = dict(modules)
    if not 0 < first_port <= 65536 - len(locations):
        raise ValueError(f"first port {first_port}: {len(locations)} servers do not fit")
    return [
        CodeServer(location, module, host.replace(LOCATION_PLACEHOLDER, location), first_port + n)
        for n, (location, module) in enumerate(locations.items())
    ]


def grpc_workspace_yaml(
    servers: list[CodeServer], workspace_file: str = "deploy/workspace.grpc.yaml"
) -> str:
    """The workspace file of `grpc_server` entries, each under the command that serves it."""
    lines = [
        "# Written by `wdc grpc-workspace` from workspace.yaml: one gRPC code server per domain.",
        "# Start each server below (from the project root, with the instance's environment), then",
        "# point the webserver and the daemon at this file (README, 'Running in production'):",
        f"#   dagster-webserver -h 0.0.0.0 -p 3000 -w {workspace_file}",
        f"#   dagster-daemon run -w {workspace_file}",
        "load_from:",
    ]
    return "\n".join(lines) + "\n" + "".join(_entry(server) for server in servers)


def _entry(server: CodeServer) -> str:
    return (
        f"  # {' '.join(server.command())}\n"
        "  - grpc_server:\n"
        f"      host: {server.host}\n"
        f"      port: {server.port}\n"
        f"      location_name: {server.location}\n"
    )


def grpc_workspace_shape(text: str) -> tuple[list[dict], str]:
    """A gRPC workspace's entries and the host they share (`wdc-{location}` when each names its
    location). ValueError when `text` is not a workspace of grpc_server entries or its hosts
    follow no pattern."""
    try:
        entries = [entry["grpc_server"] for entry in load_yaml(text)["load_from"]]
        hosts = {
            str(e["host"]).replace(str(e["location_name"]), LOCATION_PLACEHOLDER) for e in entries
        }
        max(int(e["port"]) for e in entries)  # a port each, and at least one entry
    except (KeyError, TypeError, ValueError, yaml.YAMLError) as error:
        raise ValueError(f"not a workspace of grpc_server entries ({error!r})") from error
    if len(hosts) != 1:
        raise ValueError(f"its entries have no common host to follow: {sorted(hosts)}")
    return entries, hosts.pop()


def with_code_server(before: str, location: str, module: str) -> str:
    """The gRPC workspace `before` with one more code server after its last (`wdc new-domain`):
    the next port, and the others' host (or their per-location host, `wdc-{location}`). For a
    file `wdc grpc-workspace` wrote, the generator's output for the new list of locations.
    ValueError when `before` does not have that shape (nothing to follow)."""
    entries, host = grpc_workspace_shape(before)
    port = max(int(e["port"]) for e in entries) + 1
    server = CodeServer(location, module, host.replace(LOCATION_PLACEHOLDER, location), port)
    after = before + ("" if before.endswith("\n") else "\n") + _entry(server)
    added = {"host": server.host, "port": server.port, "location_name": location}
    try:
        read_back = [entry.get("grpc_server") for entry in load_yaml(after)["load_from"]]
    except (KeyError, TypeError, AttributeError, yaml.YAMLError):
        read_back = None
    if read_back != [*entries, added]:
        raise ValueError("its `load_from:` list is not the last block of the file")
    return after


def write_grpc_workspace(path: Path, servers: list[CodeServer]) -> Path:
    """Write the gRPC workspace to `path` (its folder made when missing)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    shown = path.relative_to(PROJECT_ROOT) if path.is_relative_to(PROJECT_ROOT) else path
    path.write_text(grpc_workspace_yaml(servers, str(shown)))
    return path
