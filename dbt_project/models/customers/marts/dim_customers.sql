-- Data product: one row per customer from the latest snapshot. LGPD: name, CPF, e-mail, phone and
-- birth date never leave the private staging model; the age is published as a band only, and the
-- CRM id only as a pseudonym (HMAC-SHA256, the same in every domain so products still join).
with customers as (

    select * from {{ ref('int_customers__latest_snapshot') }}

),

final as (

    select
        {{ pseudonymise('customer_id') }}              as customer_id,
        signup_date,
        segment,
        city,
        uf,
        {{ uf_to_region('uf') }}                       as region,
        {{ age_band('birth_date', 'partition_date') }} as age_band,
        partition_date                                 as snapshot_date,
        updated_at
    from customers

)

select * from final
