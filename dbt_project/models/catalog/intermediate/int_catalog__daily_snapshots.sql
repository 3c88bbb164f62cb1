-- The catalog as the ERP exported it each day: one row per product per snapshot day with the
-- category and department of the same day's category snapshot (both land together), kept for
-- every day built (incremental by snapshot_date, a run replaces the days of its window).
-- dim_products' history is computed from it (macros/state_history.sql).
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='snapshot_date',
        partitioned_by=['snapshot_date'],
        on_schema_change='append_new_columns'
    )
}}

with products as (

    select * from {{ ref('stg_catalog__products') }}
    where {{ in_run_window('partition_date') }}

),

categories as (

    select * from {{ ref('stg_catalog__categories') }}
    where {{ in_run_window('partition_date') }}

),

joined as (

    select
        products.product_id,
        products.sku,
        products.product_name,
        products.category_id,
        categories.category_name,
        categories.department,
        products.brand,
        products.price                 as current_price,
        products.stock_quantity,
        products.is_active,
        products.updated_at,
        products.partition_date        as snapshot_date
    from products
    -- left join: a product with an unknown category must not vanish from the catalog
    left join categories
        on products.category_id = categories.category_id
        and products.partition_date = categories.partition_date

)

select * from joined
