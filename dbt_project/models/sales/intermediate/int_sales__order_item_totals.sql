-- Per order of the run window: how many lines and units it has. Aggregated here so fct_orders
-- joins one row per order.
with order_items as (

    select * from {{ ref('stg_sales__order_items') }}
    where {{ in_run_window('partition_date') }}

),

totals as (

    select
        order_id,
        count(*)                               as item_count,
        cast(sum(quantity) as integer)         as unit_count,
        cast(sum(line_amount) as decimal(18, 2)) as line_amount_total
    from order_items
    group by order_id

)

select * from totals
