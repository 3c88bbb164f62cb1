-- Data product: one row per shipment with its delivery outcome against the promise and the
-- carrier's SLA, and the order day from the sales domain's fct_orders. Incremental by the
-- shipment's partition day (delete+insert replaces the days of the window).
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='shipment_date',
        partitioned_by=['shipment_date'],
        on_schema_change='append_new_columns'
    )
}}

with shipments as (

    select * from {{ ref('stg_logistics__shipments') }}
    where {{ in_run_window('partition_date') }}

),

tracking as (

    select * from {{ ref('int_logistics__shipment_tracking') }}

),

-- the SLA table is a daily snapshot; use the one that landed with the shipment
slas as (

    select * from {{ ref('stg_logistics__carrier_slas') }}
    where {{ in_run_window('partition_date') }}

),

-- a shipment belongs to a confirmed order of the same day, so the window's orders suffice
orders as (

    select
        order_id,
        order_date
    from {{ ref('fct_orders') }}
    where {{ in_run_window('order_date') }}

),

joined as (

    select
        shipments.shipment_id,
        shipments.order_id,
        shipments.partition_date                       as shipment_date,
        orders.order_date,
        shipments.carrier_code,
        shipments.carrier_service,
        shipments.destination_uf,
        shipments.destination_city,
        shipments.shipped_at,
        shipments.promised_date,
        tracking.delivered_at,
        -- promised dates are local calendar days, so compare local delivery dates
        cast(timezone('America/Sao_Paulo', tracking.delivered_at) as date) as delivered_date,
        cast(timezone('America/Sao_Paulo', shipments.shipped_at) as date)  as shipped_date,
        coalesce(tracking.event_count, 0)              as event_count,
        tracking.last_event_status,
        tracking.last_event_at,
        slas.sla_days
    from shipments
    left join tracking
        on shipments.shipment_id = tracking.shipment_id
    left join slas
        on shipments.carrier_code = slas.carrier_code
        and shipments.carrier_service = slas.carrier_service
        and shipments.destination_uf = slas.destination_uf
        and shipments.partition_date = slas.partition_date
    left join orders
        on shipments.order_id = orders.order_id

),

final as (

    select
        shipment_id,
        order_id,
        shipment_date,
        order_date,
        carrier_code,
        carrier_service,
        destination_uf,
        destination_city,
        shipped_at,
        promised_date,
        delivered_at,
        delivered_at is not null                                    as is_delivered,
        -- undelivered shipments are neither late nor on time (yet)
        coalesce(delivered_date > promised_date, false)             as is_late,
        coalesce(delivered_date <= promised_date, false)            as delivered_on_time,
        sla_days,
        cast(delivered_date - shipped_date as integer)              as delivery_days,
        event_count,
        last_event_status,
        last_event_at
    from joined

)

select * from final
