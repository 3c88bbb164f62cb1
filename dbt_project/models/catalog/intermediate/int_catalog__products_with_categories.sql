-- The catalog as of the run: the latest daily product snapshot on or before var('max_date'),
-- joined with the category snapshot of the same day (both land together from the ERP).
with products as (

    select * from {{ ref('stg_catalog__products') }}
    where partition_date <= {{ run_window_end() }}

),

latest as (

    select max(partition_date) as snapshot_date
    from products

),

categories as (

    select * from {{ ref('stg_catalog__categories') }}

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
        products.price,
        products.stock_quantity,
        products.is_active,
        products.updated_at,
        products.partition_date
    from products
    inner join latest
        on products.partition_date = latest.snapshot_date
    -- left join: a product with an unknown category must not vanish from the catalog
    left join categories
        on products.category_id = categories.category_id
        and products.partition_date = categories.partition_date

)

select * from joined
