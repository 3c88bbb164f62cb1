-- Data product: one row per order line, with the product's category from the catalog's data
-- product. Incremental by day like fct_orders (order items land in the order's partition).
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='order_date',
        partitioned_by=['order_date'],
        on_schema_change='append_new_columns'
    )
}}

with order_items as (

    select * from {{ ref('stg_sales__order_items') }}
    where {{ in_run_window('partition_date') }}

),

-- the catalog's history: a line joins the product's version of the order's day (as of)
products as (

    select
        product_id,
        category_name,
        valid_from,
        valid_to
    from {{ ref('dim_products') }}

),

final as (

    select
        order_items.order_id,
        order_items.item_seq,
        order_items.product_id,
        order_items.partition_date                     as order_date,
        order_items.quantity,
        order_items.unit_price,
        order_items.line_amount,
        products.category_name
    from order_items
    left join products
        on order_items.product_id = products.product_id
        and {{ as_of('products', 'order_items.partition_date') }}

)

select * from final
