"""Marketplace: every data product, filtered by domain, classification and status, searched by
name, description and column; a row opens the product's page."""

from __future__ import annotations

import pandas as pd
from taipy.gui import Markdown, State, navigate

from wdc_orchestration.governance.descriptor import Classification
from wdc_portal.context import portal
from wdc_portal.data.health import load_health
from wdc_portal.data.marketplace import COLUMNS, filter_rows, product_rows

ALL = "all"
domain_options = [ALL]
classification_options = [ALL, *(c.value for c in Classification)]
status_options = [ALL, "draft", "active", "deprecated", "retired"]
domain_filter = ALL
classification_filter = ALL
status_filter = ALL
search = ""
all_products = pd.DataFrame(columns=COLUMNS)
products = pd.DataFrame(columns=COLUMNS)
summary = ""


def load(state: State, params: dict[str, str]) -> None:
    p = portal()
    state.domain_options = [ALL, *p.domains]
    state.all_products = product_rows(p, load_health(p))
    apply_filters(state)


def apply_filters(state: State, *_: object) -> None:
    state.products = filter_rows(
        state.all_products,
        portal(),
        state.domain_filter,
        state.classification_filter,
        state.status_filter,
        state.search,
    )
    state.summary = f"{len(state.products)} of {len(state.all_products)} data products"


def open_product(state: State, var_name: str, payload: dict) -> None:
    row = payload.get("index")
    if row is not None and 0 <= row < len(state.products):
        navigate(state, "product", params={"product": state.products["product"][row]})


page = Markdown(
    """
# Data products

Find a product, see who owns it and whether it can be trusted today; click a row for its page.

<|layout|columns=1 1 1 3|
<|{domain_filter}|selector|lov={domain_options}|dropdown|label=Domain|on_change=apply_filters|id=domain-filter|>

<|{classification_filter}|selector|lov={classification_options}|dropdown|label=Classification|on_change=apply_filters|id=classification-filter|>

<|{status_filter}|selector|lov={status_options}|dropdown|label=Status|on_change=apply_filters|id=status-filter|>

<|{search}|input|label=Search names, descriptions, columns|on_change=apply_filters|change_delay=300|id=search|>
|>

<|{summary}|text|id=summary|>

<|{products}|table|show_all|on_action=open_product|id=products|>
"""
)
