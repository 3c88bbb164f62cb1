-- One row per tracking event: the shipments' `events` list unnested, keeping its position
-- (event_seq, 1-based) because the carrier sends the events in order.
with source as (

    select * from {{ source('logistics_raw', 'shipments') }}

),

unnested as (

    select
        shipment_id,
        order_id,
        "date",
        unnest(events)                         as event,
        -- generate_subscripts runs in lock-step with unnest over the same list
        generate_subscripts(events, 1)         as event_seq
    from source

),

renamed as (

    select
        cast(shipment_id as bigint)            as shipment_id,
        cast(order_id as bigint)               as order_id,
        cast(event_seq as integer)             as event_seq,
        cast(event.status as varchar)          as event_status,
        cast(event.ts as timestamptz)          as event_at,
        cast(event.location as varchar)        as event_location,
        cast("date" as date)                   as partition_date
    from unnested

)

select * from renamed
