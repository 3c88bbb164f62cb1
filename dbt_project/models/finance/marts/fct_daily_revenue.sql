-- Data product: revenue per order day and payment method. Only approved payments count as
-- revenue; refunds are subtracted on the day of the order they refund. Incremental like its
-- input: the window's order days are recomputed from fct_payments and replaced.
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='order_date',
        on_schema_change='append_new_columns'
    )
}}

with payments as (

    select * from {{ ref('fct_payments') }}
    where {{ in_run_window('order_date') }}

),

daily as (

    select
        order_date,
        payment_method,
        count(*)                                                       as payment_count,
        count(*) filter (where payment_status = 'aprovado')            as approved_payment_count,
        cast(sum(refund_count) as bigint)                              as refund_count,
        cast(
            coalesce(sum(amount) filter (where payment_status = 'aprovado'), 0) as decimal(18, 2)
        )                                                              as gross_amount,
        cast(sum(refunded_amount) as decimal(18, 2))                   as refunded_amount
    from payments
    group by order_date, payment_method

),

final as (

    select
        order_date,
        payment_method,
        payment_count,
        approved_payment_count,
        refund_count,
        gross_amount,
        refunded_amount,
        cast(gross_amount - refunded_amount as decimal(18, 2))         as net_amount
    from daily

)

select * from final
