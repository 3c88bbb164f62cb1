-- One row per order (the OMS already uses English snake_case; this casts to the platform's types
-- and exposes the partition date).
with source as (

    select * from {{ source('sales_raw', 'orders') }}

),

renamed as (

    select
        cast(order_id as bigint)               as order_id,
        cast(customer_id as bigint)            as customer_id,
        cast(order_ts as timestamptz)          as order_ts,
        cast(channel as varchar)               as channel,
        cast(status as varchar)                as status,
        cast(items_amount as decimal(18, 2))   as items_amount,
        cast(discount_amount as decimal(18, 2)) as discount_amount,
        cast(freight_amount as decimal(18, 2)) as freight_amount,
        cast(total_amount as decimal(18, 2))   as total_amount,
        cast("date" as date)                   as partition_date
    from source

)

select * from renamed
