{#- Generic test: `model` is a well-formed type-2 history of `key` (macros/state_history.sql):
    every version ends after it starts, is_current is exactly "valid_to is null", and no two
    versions of one key overlap (so a fact's as-of join finds at most one). Returns the offending
    versions. -#}
{% test scd2_history(model, key) %}

    with versions as (

        select {{ key }} as history_key, valid_from, valid_to, is_current
        from {{ model }}

    ),

    malformed as (

        select history_key, valid_from, valid_to, is_current
        from versions
        where (valid_to is not null and valid_to <= valid_from)
            or is_current is distinct from (valid_to is null)

    ),

    overlapping as (

        select earlier.history_key, earlier.valid_from, earlier.valid_to, earlier.is_current
        from versions as earlier
        inner join versions as later
            on earlier.history_key = later.history_key
            and earlier.valid_from < later.valid_from
            and (earlier.valid_to is null or earlier.valid_to > later.valid_from)

    )

    select * from malformed
    union all
    select * from overlapping

{% endtest %}
