-- One row per shipment: the JSON's nested carrier/destination objects flattened into columns.
-- The events list is unnested separately in stg_logistics__tracking_events.
with source as (

    select * from {{ source('logistics_raw', 'shipments') }}

),

renamed as (

    select
        cast(shipment_id as bigint)            as shipment_id,
        cast(order_id as bigint)               as order_id,
        cast(carrier.code as varchar)          as carrier_code,
        cast(carrier.service as varchar)       as carrier_service,
        cast(destination.uf as varchar)        as destination_uf,
        cast(destination.city as varchar)      as destination_city,
        cast(shipped_at as timestamptz)        as shipped_at,
        cast(promised_date as date)            as promised_date,
        cast("date" as date)                   as partition_date
    from source

)

select * from renamed
