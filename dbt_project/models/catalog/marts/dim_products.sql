-- Data product: the catalog with its history, a type-2 slowly changing dimension (one row per
-- product per version: valid_from, valid_to, is_current), computed from every daily ERP snapshot
-- built (macros/state_history.sql). A price, stock or category change makes a new version; the
-- state on day D: valid_from <= D < valid_to (or valid_to null); the current catalog: is_current.
-- sqlfluff cannot parse the macro's `is not distinct from` (sqlfluff/sqlfluff#3284):
-- noqa: disable=PRS,LT02
with versions as (

    {{ state_product(
        'int_catalog__daily_snapshots',
        key='product_id',
        date_column='snapshot_date',
        tracked=['sku', 'product_name', 'category_id', 'category_name', 'department', 'brand',
                 'current_price', 'stock_quantity', 'is_active', 'updated_at']
    ) }}

),
-- noqa: enable=PRS,LT02

final as (

    select
        product_id,
        sku,
        product_name,
        category_id,
        category_name,
        department,
        brand,
        current_price,
        stock_quantity,
        is_active,
        updated_at,
        valid_from,
        valid_to,
        is_current
    from versions

)

select * from final
