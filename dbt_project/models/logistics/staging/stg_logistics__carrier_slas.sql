-- One row per carrier service and destination UF per daily snapshot.
with source as (

    select * from {{ source('logistics_raw', 'carrier_slas') }}

),

renamed as (

    select
        cast(carrier as varchar)               as carrier_code,
        cast(service as varchar)               as carrier_service,
        cast(uf as varchar)                    as destination_uf,
        cast(sla_days as integer)              as sla_days,
        cast("date" as date)                   as partition_date
    from source

)

select * from renamed
