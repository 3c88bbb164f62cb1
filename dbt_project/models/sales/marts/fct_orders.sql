-- Data product: one row per order. Incremental by day: the run window (macros/window.sql) selects
-- the raw partitions to read, and delete+insert on order_date replaces those days in the table,
-- so rerunning a day never duplicates it.
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='order_date',
        partitioned_by=['order_date'],
        on_schema_change='append_new_columns'
    )
}}

-- The CRM id is pseudonymised here, once per order, so the join below is on plain columns: with
-- the pseudonymisation (a Python UDF) inside the join condition beside the as-of range, DuckDB
-- cannot hash-join and compares every order with every customer version (minutes at SF 1).
with orders as (

    select
        * replace ({{ pseudonymise('customer_id') }} as customer_id)
    from {{ ref('stg_sales__orders') }}
    where {{ in_run_window('partition_date') }}

),

item_totals as (

    select * from {{ ref('int_sales__order_item_totals') }}

),

-- customers' data product, a history of versions: an order joins the version that held on its
-- own day (as of order_date), never the latest one, so a rerun of an old day or a customer who
-- moved since reads the same state. Its customer_id is pseudonymised (LGPD), so the order's CRM
-- id is pseudonymised the same way (in `orders`) before the join and in the output.
customers as (

    select
        customer_id,
        uf as customer_uf,
        valid_from,
        valid_to
    from {{ ref('dim_customers') }}

),

joined as (

    select
        orders.*,
        coalesce(item_totals.item_count, 0)            as item_count,
        coalesce(item_totals.unit_count, 0)            as unit_count,
        customers.customer_uf
    from orders
    left join item_totals
        on orders.order_id = item_totals.order_id
    left join customers
        on orders.customer_id = customers.customer_id
        and {{ as_of('customers', 'orders.partition_date') }}

),

final as (

    select
        order_id,
        customer_id,
        partition_date                                 as order_date,
        order_ts,
        channel,
        status,
        items_amount,
        discount_amount,
        freight_amount,
        total_amount,
        item_count,
        unit_count,
        customer_uf
    from joined

)

select * from final
