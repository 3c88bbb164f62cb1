-- Data product: the customer base with its history, a type-2 slowly changing dimension (one row
-- per customer per version: valid_from, valid_to, is_current), computed from every daily CRM
-- snapshot built (macros/state_history.sql). The state on day D: valid_from <= D < valid_to (or
-- valid_to null); the current state: is_current. LGPD: name, CPF, e-mail, phone and birth date
-- never leave the private staging model; the age is published as a band only (so it changes
-- over time, which makes a new version), and the CRM id only as a pseudonym (HMAC-SHA256, the
-- same in every domain so products still join).
-- sqlfluff cannot parse the macro's `is not distinct from` (sqlfluff/sqlfluff#3284):
-- noqa: disable=PRS,LT02
with versions as (

    {{ state_product(
        'int_customers__daily_snapshots',
        key='customer_id',
        date_column='snapshot_date',
        tracked=['signup_date', 'segment', 'city', 'uf', 'region', 'age_band', 'updated_at']
    ) }}

),
-- noqa: enable=PRS,LT02

final as (

    select
        customer_id,
        signup_date,
        segment,
        city,
        uf,
        region,
        age_band,
        updated_at,
        valid_from,
        valid_to,
        is_current
    from versions

)

select * from final
