-- Data product: one row per payment, reconciled against the sales domain's fct_orders.
-- Incremental by the payment's partition day (delete+insert replaces the days of the window).
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='payment_date',
        partitioned_by=['payment_date'],
        on_schema_change='append_new_columns'
    )
}}

with payments as (

    select * from {{ ref('int_finance__payments_with_refunds') }}

),

-- A payment belongs to an order of the same day, so only the window's orders are read; a payment
-- whose order is missing stays in the table, flagged as not reconciled.
orders as (

    select
        order_id,
        order_date,
        total_amount,
        status
    from {{ ref('fct_orders') }}
    where {{ in_run_window('order_date') }}

),

final as (

    select
        payments.payment_id,
        payments.order_id,
        payments.partition_date                        as payment_date,
        payments.paid_at,
        payments.payment_method,
        payments.installments,
        payments.amount,
        payments.payment_status,
        payments.refund_count,
        payments.refunded_amount,
        payments.last_refunded_at,
        orders.order_date,
        orders.status                                  as order_status,
        orders.total_amount                            as order_total_amount,
        -- reconciled: the order exists and the gateway charged exactly its total
        coalesce(payments.amount = orders.total_amount, false) as is_reconciled
    from payments
    left join orders
        on payments.order_id = orders.order_id

)

select * from final
