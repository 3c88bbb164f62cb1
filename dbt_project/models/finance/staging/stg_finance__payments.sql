-- One row per payment.
with source as (

    select * from {{ source('finance_raw', 'payments') }}

),

renamed as (

    select
        cast(payment_id as bigint)             as payment_id,
        cast(order_id as bigint)               as order_id,
        cast(method as varchar)                as payment_method,
        cast(installments as integer)          as installments,
        cast(amount as decimal(18, 2))         as amount,
        cast(status as varchar)                as payment_status,
        cast(paid_ts as timestamptz)           as paid_at,
        cast("date" as date)                   as partition_date
    from source

)

select * from renamed
