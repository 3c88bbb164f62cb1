-- One row per product per daily snapshot: the ERP's CSV text cast to the platform's types.
with source as (

    select * from {{ source('catalog_raw', 'products') }}

),

renamed as (

    select
        cast(id_produto as bigint)             as product_id,
        cast(sku as varchar)                   as sku,
        cast(nome_produto as varchar)          as product_name,
        cast(id_categoria as bigint)           as category_id,
        cast(marca as varchar)                 as brand,
        cast(preco as decimal(18, 2))          as price,
        cast(estoque as integer)               as stock_quantity,
        cast(ativo as boolean)                 as is_active,
        cast(atualizado_em as timestamptz)     as updated_at,
        cast("date" as date)                   as partition_date
    from source

)

select * from renamed
