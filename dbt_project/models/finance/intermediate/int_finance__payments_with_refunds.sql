-- Payments of the run window with what was refunded on them. Refunds land in the same partition
-- as their payment (one per approved payment of a cancelled order of that day), so the window
-- applies to both.
with payments as (

    select * from {{ ref('stg_finance__payments') }}
    where {{ in_run_window('partition_date') }}

),

refunds as (

    select * from {{ ref('stg_finance__refunds') }}
    where {{ in_run_window('partition_date') }}

),

refunds_per_payment as (

    select
        payment_id,
        count(*)                                  as refund_count,
        cast(sum(refund_amount) as decimal(18, 2)) as refunded_amount,
        max(refunded_at)                          as last_refunded_at
    from refunds
    group by payment_id

),

joined as (

    select
        payments.*,
        coalesce(refunds_per_payment.refund_count, 0)                  as refund_count,
        cast(coalesce(refunds_per_payment.refunded_amount, 0) as decimal(18, 2)) as refunded_amount,
        refunds_per_payment.last_refunded_at
    from payments
    left join refunds_per_payment
        on payments.payment_id = refunds_per_payment.payment_id

)

select * from joined
