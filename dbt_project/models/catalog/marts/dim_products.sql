-- Data product: one row per product, as in the latest catalog snapshot.
with products as (

    select * from {{ ref('int_catalog__products_with_categories') }}

),

final as (

    select
        product_id,
        sku,
        product_name,
        category_id,
        category_name,
        department,
        brand,
        price                 as current_price,
        stock_quantity,
        is_active,
        partition_date        as snapshot_date,
        updated_at
    from products

)

select * from final
