-- One row per order line.
with source as (

    select * from {{ source('sales_raw', 'order_items') }}

),

renamed as (

    select
        cast(order_id as bigint)               as order_id,
        cast(item_seq as integer)              as item_seq,
        cast(product_id as bigint)             as product_id,
        cast(quantity as integer)              as quantity,
        cast(unit_price as decimal(18, 2))     as unit_price,
        cast(line_amount as decimal(18, 2))    as line_amount,
        cast("date" as date)                   as partition_date
    from source

)

select * from renamed
