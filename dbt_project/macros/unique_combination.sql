{#- Generic test: the combination of `combination_of_columns` is unique (no dbt_utils here).
    Used for daily snapshots, where an id is unique per partition date but not overall, and for
    grains such as (order_id, item_seq). -#}
{% test unique_combination(model, combination_of_columns) %}
    {%- set columns_csv = combination_of_columns | join(', ') -%}

    select
        {{ columns_csv }},
        count(*) as n_records
    from {{ model }}
    group by {{ columns_csv }}
    having count(*) > 1
{% endtest %}
