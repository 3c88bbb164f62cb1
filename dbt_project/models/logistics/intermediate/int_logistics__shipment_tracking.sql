-- Per shipment of the run window: where its tracking stands. The first `entregue` event is the
-- delivery; a shipment without one is not delivered yet.
with events as (

    select * from {{ ref('stg_logistics__tracking_events') }}
    where {{ in_run_window('partition_date') }}

),

tracking as (

    select
        shipment_id,
        count(*)                                              as event_count,
        min(event_at) filter (where event_status = 'entregue') as delivered_at,
        -- the carrier sends events in order, so the last position is the current status
        arg_max(event_status, event_seq)                      as last_event_status,
        max(event_at)                                         as last_event_at
    from events
    group by shipment_id

)

select * from tracking
