"""Column lineage across domains, for the portal: dbt compiles the models (in this process, no
connection to the lakehouse: no cache population, no introspection), the platform's sqlglot
lineage gives each model column its upstream columns, and this chains them back to the raw
fields of the sources — through other domains' products."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from wdc_orchestration.dbt.lineage import ColumnRef, dbt_column_lineage

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LineageGraph:
    edges: Mapping[str, Mapping[str, list[ColumnRef]]]  # node -> column -> upstream columns
    labels: Mapping[str, str]  # node -> `<domain>.<model>` or `<domain>.raw.<entity>`
    kinds: Mapping[str, str]  # node -> product | model | raw


def compile_models(dbt_env: Mapping[str, str] | None = None) -> dict[str, str]:
    """Unique id -> compiled SQL of every model, from `dbt compile` run in this process with
    `dbt_env` (default: the portal's settings, wdc_portal/context.py)."""
    # lazy: dagster-dbt and dbt-core (~3 s), only when the lineage is built
    from wdc_orchestration.dbt.project import DBT_TARGET, dbt_project
    from wdc_orchestration.dbt.runner import DbtRunner

    if dbt_env is None:
        # lazy: the portal's context (its settings, read when the portal starts), only when no
        # settings are given
        from wdc_portal.context import portal

        dbt_env = portal().settings.dbt_env()
    project = dbt_project()
    runner = DbtRunner(
        project_dir=os.fspath(project.project_dir),
        profiles_dir=os.fspath(project.profiles_dir),
        target=DBT_TARGET,
        env=dict(dbt_env),
    )
    run = runner.run(
        ["compile", "--select", "resource_type:model", "--no-populate-cache", "--no-introspect"]
    )
    try:
        if not run.success:
            raise run.error()
        return {
            result.node.unique_id: result.node.compiled_code
            for result in run.results
            if result.node.resource_type == "model" and result.node.compiled_code
        }
    finally:
        run.cleanup(keep_on_failure=True)


def build_graph(manifest: Mapping[str, Any], compiled: Mapping[str, str]) -> LineageGraph:
    # lazy: dagster-dbt (~2 s), as above
    from wdc_orchestration.dbt.project import domain_of

    labels, kinds = {}, {}
    for unique_id, node in manifest["sources"].items():
        labels[unique_id] = f"{domain_of(node)}.raw.{node['name']}"
        kinds[unique_id] = "raw"
    for unique_id, node in manifest["nodes"].items():
        if node["resource_type"] == "model":
            labels[unique_id] = f"{domain_of(node)}.{node['name']}"
            kinds[unique_id] = "product" if node.get("access") == "public" else "model"
    return LineageGraph(dbt_column_lineage(manifest, compiled), labels, kinds)


_GRAPH: LineageGraph | None = None
_GRAPH_LOCK = threading.Lock()


def lineage_graph() -> LineageGraph:
    """The project's lineage, computed once per process (≈5 s: a compile and the sqlglot pass)."""
    global _GRAPH
    with _GRAPH_LOCK:
        if _GRAPH is None:
            # lazy: dagster-dbt (~2 s), only on the first request for the lineage
            from wdc_orchestration.dbt.project import load_manifest

            _GRAPH = build_graph(load_manifest(), compile_models())
            log.info("column lineage of %d models computed", len(_GRAPH.edges))
        return _GRAPH


def node_of(graph: LineageGraph, label: str) -> str | None:
    return next((node for node, name in graph.labels.items() if name == label), None)


def trace(graph: LineageGraph, node: str, column: str) -> list[list[ColumnRef]]:
    """Every path from `node.column` up to a raw field (or to a column with no upstream, such as
    a count), as lists of hops starting at the column itself."""
    paths: list[list[ColumnRef]] = []

    def walk(path: list[ColumnRef]) -> None:
        here = path[-1]
        upstream = graph.edges.get(here.relation, {}).get(here.column, [])
        if not upstream or graph.kinds.get(here.relation) == "raw":
            paths.append(path)
            return
        for ref in upstream:
            if ref not in path:  # a self-referencing model cannot loop us
                walk([*path, ref])

    walk([ColumnRef(node, column)])
    return paths


def product_lineage(graph: LineageGraph, product_label: str) -> pd.DataFrame:
    """One row per (product column, path to a raw field): the raw field, its domain, the hops."""
    node = node_of(graph, product_label)
    rows = []
    for column in graph.edges.get(node or "", {}):
        for path in trace(graph, node, column):
            origin = path[-1]
            raw = graph.kinds.get(origin.relation) == "raw" and len(path) > 1
            rows.append(
                {
                    "column": column,
                    "raw field": f"{graph.labels[origin.relation]}.{origin.column}" if raw else "",
                    "from domain": graph.labels[origin.relation].split(".")[0] if raw else "",
                    "path": " ← ".join(
                        f"{graph.labels.get(ref.relation, ref.relation)}.{ref.column}"
                        for ref in path
                    ),
                }
            )
    return pd.DataFrame(rows, columns=["column", "raw field", "from domain", "path"])


def lineage_links(graph: LineageGraph, product_label: str) -> pd.DataFrame:
    """Edges (upstream column -> downstream column) of every path of the product, for a
    Sankey diagram: source, target, and the node kind of the source."""
    node = node_of(graph, product_label)
    edges: set[tuple[str, str, str]] = set()
    for column in graph.edges.get(node or "", {}):
        for path in trace(graph, node, column):
            for downstream, upstream in zip(path, path[1:], strict=False):
                edges.add(
                    (
                        f"{graph.labels[upstream.relation]}.{upstream.column}",
                        f"{graph.labels[downstream.relation]}.{downstream.column}",
                        graph.kinds.get(upstream.relation, "model"),
                    )
                )
    return pd.DataFrame(sorted(edges), columns=["source", "target", "kind"])
