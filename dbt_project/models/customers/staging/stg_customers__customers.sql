-- One row per customer per daily snapshot. Renames the CRM's Portuguese columns and casts to the
-- platform's types; the personal data (name, CPF, e-mail, phone, birth date) stays here, private.
with source as (

    select * from {{ source('customers_raw', 'customers') }}

),

renamed as (

    select
        cast(id_cliente as bigint)             as customer_id,
        cast(nome as varchar)                  as full_name,
        cast(cpf as varchar)                   as cpf,
        cast(email as varchar)                 as email,
        cast(telefone as varchar)              as phone,
        cast(cidade as varchar)                as city,
        cast(uf as varchar)                    as uf,
        cast(data_nascimento as date)          as birth_date,
        cast(data_cadastro as date)            as signup_date,
        cast(segmento as varchar)              as segment,
        cast(atualizado_em as timestamptz)     as updated_at,
        cast("date" as date)                   as partition_date
    from source

)

select * from renamed
