-- One row per refund.
with source as (

    select * from {{ source('finance_raw', 'refunds') }}

),

renamed as (

    select
        cast(refund_id as bigint)              as refund_id,
        cast(payment_id as bigint)             as payment_id,
        cast(order_id as bigint)               as order_id,
        cast(amount as decimal(18, 2))         as refund_amount,
        cast(reason as varchar)                as refund_reason,
        cast(refund_ts as timestamptz)         as refunded_at,
        cast("date" as date)                   as partition_date
    from source

)

select * from renamed
