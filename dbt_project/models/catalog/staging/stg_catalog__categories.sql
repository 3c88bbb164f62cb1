-- One row per category per daily snapshot.
with source as (

    select * from {{ source('catalog_raw', 'categories') }}

),

renamed as (

    select
        cast(id_categoria as bigint)           as category_id,
        cast(nome_categoria as varchar)        as category_name,
        cast(departamento as varchar)          as department,
        cast("date" as date)                   as partition_date
    from source

)

select * from renamed
