"""Column lineage from compiled SQL (wdc_orchestration/dbt/lineage.py): the pure function on a small
query, then the real project compiled by dbt, chained back to the raw fields across domains."""

from __future__ import annotations

import pytest

from wdc_orchestration.dbt.lineage import ColumnRef, column_lineage
from wdc_portal.data.lineage import LineageGraph, build_graph, compile_models, product_lineage


def test_each_output_column_maps_to_the_input_columns_it_is_computed_from() -> None:
    sql = """
        with paid as (
            select o.order_id, o.order_date, p.amount, p.status
            from lakehouse.sales.orders o
            join "lakehouse"."finance"."payments" p on p.order_id = o.order_id
        )
        select order_date, count(*) as payments,
               sum(amount) filter (where status = 'ok') as revenue
        from paid group by order_date
    """
    schemas = {
        "lakehouse.sales.orders": {"order_id": "bigint", "order_date": "date"},
        '"lakehouse"."finance"."payments"': {
            "order_id": "bigint",
            "amount": "decimal(18,2)",
            "status": "varchar",
        },
    }
    found = column_lineage(sql, schemas)
    payments = '"lakehouse"."finance"."payments"'
    assert found == {
        "order_date": [ColumnRef("lakehouse.sales.orders", "order_date")],
        "payments": [],  # count(*) reads no column
        "revenue": [ColumnRef(payments, "amount"), ColumnRef(payments, "status")],
    }


@pytest.fixture(scope="module")
def graph() -> LineageGraph:
    from wdc_orchestration.dbt.project import load_manifest

    return build_graph(load_manifest(), compile_models())


def test_every_model_of_the_project_gets_column_lineage(graph: LineageGraph) -> None:
    models = [node for node, kind in graph.kinds.items() if kind in ("model", "product")]
    assert sorted(graph.edges) == sorted(models)
    # a staging model reads its raw source through a table function: still resolved
    assert graph.edges["model.wdc.stg_finance__payments"]["payment_method"] == [
        ColumnRef("source.wdc.finance_raw.payments", "method")
    ]


def test_daily_revenue_reaches_the_raw_fields_of_sales_and_finance(graph: LineageGraph) -> None:
    paths = product_lineage(graph, "finance.fct_daily_revenue")
    by_column = paths.groupby("column")["raw field"].apply(set).to_dict()
    # order_date crosses the domains: finance's payments -> sales' orders product -> sales' raw
    assert "sales.raw.orders.date" in by_column["order_date"]
    order_date_path = paths[paths["column"] == "order_date"]["path"].iloc[0]
    assert "finance.fct_payments.order_date" in order_date_path
    assert "sales.fct_orders.order_date" in order_date_path
    assert by_column["gross_amount"] == {
        "finance.raw.payments.amount",
        "finance.raw.payments.status",
    }
    assert by_column["refunded_amount"] == {"finance.raw.refunds.amount"}
    assert by_column["payment_method"] == {"finance.raw.payments.method"}
