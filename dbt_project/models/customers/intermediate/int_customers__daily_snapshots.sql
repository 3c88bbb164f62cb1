-- The customer base as the CRM exported it each day, reduced to what dim_customers publishes: one
-- row per customer per snapshot day, kept for every day built (incremental by snapshot_date, a
-- run replaces the days of its window). dim_customers' history is computed from it
-- (macros/state_history.sql). LGPD: the CRM id is pseudonymised and the birth date reduced to an
-- age band here already, so the kept history holds no direct identifier either.
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='snapshot_date',
        partitioned_by=['snapshot_date'],
        on_schema_change='append_new_columns'
    )
}}

with customers as (

    select * from {{ ref('stg_customers__customers') }}
    where {{ in_run_window('partition_date') }}

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
        updated_at,
        partition_date                                 as snapshot_date
    from customers

)

select * from final
