"""Column lineage across domains: for each column of a product, the columns it comes from, back
to the raw fields — through other domains' products (computed from dbt's compiled SQL)."""

from __future__ import annotations

import logging

import pandas as pd
import plotly.graph_objects as go
from taipy.gui import Markdown, State

from wdc_portal.context import portal
from wdc_portal.data.lineage import lineage_graph, lineage_links, product_lineage

log = logging.getLogger(__name__)

COLOURS = {"raw": "#8c564b", "model": "#7f7f7f", "product": "#1f77b4"}

product_options: list[str] = []
product = ""
paths = pd.DataFrame(columns=["column", "raw field", "from domain", "path"])
raw_fields = ""
figure = go.Figure()
status = ""


def load(state: State, params: dict[str, str]) -> None:
    state.product_options = sorted(portal().descriptors)
    wanted = params.get("product") or state.product or "finance.fct_daily_revenue"
    state.product = wanted if wanted in state.product_options else state.product_options[0]
    show(state)


def sankey(links: pd.DataFrame, product: str) -> go.Figure:
    labels = sorted(set(links["source"]) | set(links["target"]))
    index = {label: n for n, label in enumerate(labels)}
    kinds = dict(zip(links["source"], links["kind"], strict=True))
    colours = [
        COLOURS["product"]
        if label.startswith(product + ".")
        else COLOURS[kinds.get(label, "model")]
        for label in labels
    ]
    figure = go.Figure(
        go.Sankey(
            node={"label": labels, "color": colours, "pad": 8, "thickness": 12},
            link={
                "source": [index[s] for s in links["source"]],
                "target": [index[t] for t in links["target"]],
                "value": [1] * len(links),
            },
        )
    )
    figure.update_layout(
        title=f"Columns of {product}, back to the raw fields", height=max(420, 22 * len(labels))
    )
    return figure


def show(state: State, *_: object) -> None:
    try:
        graph = lineage_graph()
    except Exception as error:  # the page says why instead of going blank
        log.exception("column lineage unavailable")
        state.status = f"Column lineage is unavailable: {error}"
        return
    state.paths = product_lineage(graph, state.product)
    fields = sorted({f for f in state.paths["raw field"] if f})
    state.raw_fields = "\n".join(f"- `{f}`" for f in fields) or "*none*"
    state.figure = sankey(lineage_links(graph, state.product), state.product)
    state.status = (
        f"{state.paths['column'].nunique()} columns of {state.product} come from "
        f"{len(fields)} raw fields of "
        f"{', '.join(sorted({f.split('.')[0] for f in fields})) or 'no'} domain(s)."
    )


page = Markdown(
    """
# Column lineage

<|{product}|selector|lov={product_options}|dropdown|label=Data product|on_change=show|id=lineage-product|>

<|{status}|text|id=lineage-status|>

<|layout|columns=1 2|
<|part|
### Raw fields it comes from
<|part|id=raw-fields|
<|{raw_fields}|text|mode=markdown|>
|>
|>

<|chart|figure={figure}|id=lineage-chart|>
|>

### Every path, column by column
<|{paths}|table|show_all|id=lineage-paths|>
"""
)
