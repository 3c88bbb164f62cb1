{#- The run window (vars min_date / max_date, inclusive) as a predicate on a partition-date
    column. Every model that grows daily filters its staging input with it, so a nightly run reads
    only its day's hive folders and delete+insert replaces exactly that day. -#}
{% macro in_run_window(column_name) -%}
    {{ column_name }} between date '{{ var("min_date") }}' and date '{{ var("max_date") }}'
{%- endmacro %}
