{#- State products keep their history (docs/time_model.md).

    A source system that exports its state (the CRM's customer base, the ERP's catalog) sends a
    full snapshot every day. Each domain keeps those snapshots, reduced to the product's columns,
    in a private incremental model partitioned by its snapshot date (`int_<domain>__daily_<x>`):
    a run replaces exactly the days of its window, like any fact. The product is then a type-2
    slowly changing dimension computed from ALL the kept days, so it is a pure function of the set
    of days built, whatever order they were built in: rerunning an old day replaces that day's
    snapshot and changes nothing else, a late day fills its gap, and nothing rewinds.

    `state_history(model, date_column)`: every kept snapshot row. In a run that builds `model`
    (under write-audit-publish its rows of the window are in the audit schema, ref.sql), the
    window's rows come from the audit relation and every other day from the published one; in a
    run that does not build it, the published relation as it is. A compile without
    introspection (`--no-introspect`: the portal's column lineage) cannot ask whether the
    published relation exists yet, and reads the audit one alone (same columns). -#}
{% macro state_history(model_name, date_column) -%}
    {%- set relation = ref(model_name) -%}
    {%- if execute and flags.INTROSPECT and relation.schema.endswith(audit_suffix()) -%}
        {%- set public_schema = relation.schema[:relation.schema | length - audit_suffix() | length] -%}
        {%- set published = adapter.get_relation(
                database=relation.database, schema=public_schema, identifier=relation.identifier) -%}
        (
            select * from {{ relation }}
            {%- if published is not none %}
            union all by name
            select * from {{ published }}
            where not ({{ in_run_window(date_column) }})
            {%- endif %}
        )
    {%- else -%}
        {{ relation }}
    {%- endif -%}
{%- endmacro %}


{#- `scd2_versions(history, key, date_column, tracked)`: the type-2 versions of `history` (one row
    per `key` per daily snapshot), as (key, tracked..., valid_from, valid_to, is_current).

    A version is a run of consecutive snapshot days (consecutive among the days kept, so a day
    that never landed does not split a version) on which the key was present with the same
    values of every `tracked` column (nulls compare equal).
    - valid_from: its first snapshot day;
    - valid_to: the first snapshot day it no longer holds (the values changed, or the key was
      absent from that snapshot), exclusive; null while it still holds in the latest snapshot;
    - is_current: valid_to is null.
    The state of a key on day D is the version with valid_from <= D < coalesce(valid_to, +inf):
    `as_of_join` writes that predicate. -#}
{% macro scd2_versions(history, key, date_column, tracked) -%}
    with snapshot_rows as (

        select * from {{ history }}

    ),

    snapshot_days as (

        select
            snapshot_day,
            row_number() over (order by snapshot_day) as day_number
        from (select distinct {{ date_column }} as snapshot_day from snapshot_rows)

    ),

    observed as (

        select
            snapshot_rows.*,
            snapshot_days.day_number,
            struct_pack(
                {%- for column in tracked %}
                {{ column }} := snapshot_rows.{{ column }}{{ "," if not loop.last }}
                {%- endfor %}
            ) as tracked_state
        from snapshot_rows
        inner join snapshot_days
            on snapshot_rows.{{ date_column }} = snapshot_days.snapshot_day

    ),

    flagged as (

        select
            *,
            -- a version starts where the key was absent the snapshot before, or had other values
            case
                when lag(day_number) over by_key = day_number - 1
                    and lag(tracked_state) over by_key is not distinct from tracked_state
                then 0
                else 1
            end as starts_version
        from observed
        window by_key as (partition by {{ key }} order by day_number)

    ),

    numbered as (

        select
            *,
            sum(starts_version) over (
                partition by {{ key }} order by day_number
                rows between unbounded preceding and current row
            ) as version_number
        from flagged

    ),

    versions as (

        select
            {{ key }},
            version_number,
            {%- for column in tracked %}
            -- equal on every day of the version by construction
            any_value({{ column }}) as {{ column }},
            {%- endfor %}
            min({{ date_column }})     as valid_from,
            max(day_number)            as last_day_number
        from numbered
        group by {{ key }}, version_number

    )

    select
        versions.{{ key }},
        {%- for column in tracked %}
        versions.{{ column }},
        {%- endfor %}
        versions.valid_from,
        next_day.snapshot_day                  as valid_to,
        next_day.snapshot_day is null          as is_current
    from versions
    left join snapshot_days as next_day
        on next_day.day_number = versions.last_day_number + 1
{%- endmacro %}


{#- The version of a type-2 dimension `dimension` that held on `day`: the as-of join predicate a
    fact uses to join the state that was true on its own day (not the latest one). -#}
{% macro as_of(dimension, day) -%}
    {{ day }} >= {{ dimension }}.valid_from
    and {{ day }} < coalesce({{ dimension }}.valid_to, date '9999-12-31')
{%- endmacro %}


{#- `state_product(snapshots_model, key, date_column, tracked)`: the type-2 versions of every
    kept snapshot of `snapshots_model`, as `scd2_versions` computes them from the whole history,
    but computed from the run's neighbourhood only, so a day costs the same after 30 days as
    after one (docs/benchmarks.md §9: recomputing every version from every kept snapshot row
    made the day's cost grow with the history).

    The product is still a pure function of the set of kept days. A run replaces the kept days
    inside its window [start, end] only; let P be the last kept day before the window and N the
    first one after it. Versions are runs of consecutive kept days, so
    - a published version that no longer held on P (valid_to <= P) depends on days <= P only,
      which the run did not change: kept as it is; so is one that starts after N;
    - every other version holds on P, on N or on a window day: recomputed from the kept days
      P..N alone (two published days and the window's), then stitched to the published ones:
      a recomputed version holding on P starts where the published version holding on P
      started (the days before P are unchanged, and so are the key's values on P), and one
      holding on N ends where the published version holding on N ended.
    The published product is this model's own public relation (it and the snapshots are
    published in the same DuckLake transaction, under the domain's writer lock, so they agree).
    Without it (a first build, a column the published table lacks) or without introspection
    (`--no-introspect` compiles), every version is computed from every kept day. -#}
{% macro state_product(snapshots_model, key, date_column, tracked) -%}
    {%- set history = state_history(snapshots_model, date_column) -%}
    {%- set previous = none -%}
    {%- if execute and flags.INTROSPECT -%}
        {%- set schema = this.schema -%}
        {%- if schema.endswith(audit_suffix()) -%}
            {%- set schema = schema[:schema | length - audit_suffix() | length] -%}
        {%- endif -%}
        {%- set published = adapter.get_relation(
                database=this.database, schema=schema, identifier=this.identifier) -%}
        {%- if published is not none -%}
            {%- set have = adapter.get_columns_in_relation(published) | map(attribute='name')
                    | map('lower') | list -%}
            {#- a `set` inside a loop does not leave it: collect, then decide outside -#}
            {%- set missing = [] -%}
            {%- for column in [key] + tracked + ['valid_from', 'valid_to', 'is_current'] -%}
                {%- if column | lower not in have -%}{%- do missing.append(column) -%}{%- endif -%}
            {%- endfor -%}
            {%- if not missing -%}{%- set previous = published -%}{%- endif -%}
        {%- endif -%}
    {%- endif -%}
    {%- if previous is none -%}
        {{ scd2_versions(history, key, date_column, tracked) }}
    {%- else -%}
        {%- set bounds = run_query(
                "select max(" ~ date_column ~ ") filter (where " ~ date_column ~ " < "
                ~ run_window_start() ~ ")::varchar, min(" ~ date_column ~ ") filter (where "
                ~ date_column ~ " > " ~ run_window_end() ~ ")::varchar, "
                ~ run_window_start() ~ "::varchar, " ~ run_window_end() ~ "::varchar from "
                ~ history) -%}
        {%- set before, after, start, end = bounds.rows[0] -%}
        {%- set low = "date '" ~ (before or start) ~ "'" -%}
        {%- set high = "date '" ~ (after or end) ~ "'" -%}
    with previous as (

        select * from {{ previous }}

    ),

    -- the versions the run cannot change: over before P, or starting after N
    unchanged as (

        select * from previous
        where false
            {%- if before %} or valid_to <= date '{{ before }}'{% endif %}
            {%- if after %} or valid_from > date '{{ after }}'{% endif %}

    ),

    -- the kept days P..N: P, the window's days, N (literal bounds, so DuckLake prunes the
    -- published snapshots to those two days' partitions)
    neighbourhood as (

        select * from {{ history }}
        where {{ date_column }} between {{ low }} and {{ high }}

    ),

    recomputed as (

        {{ scd2_versions('neighbourhood', key, date_column, tracked) | indent(8) }}

    ),

    {%- if before %}
    held_on_before as (

        select {{ key }}, valid_from from previous
        where valid_from <= date '{{ before }}'
            and (valid_to is null or valid_to > date '{{ before }}')

    ),
    {%- endif %}

    {%- if after %}
    held_on_after as (

        select {{ key }}, valid_to from previous
        where valid_from <= date '{{ after }}'
            and (valid_to is null or valid_to > date '{{ after }}')

    ),
    {%- endif %}

    stitched as (

        select
            recomputed.{{ key }},
            {%- for column in tracked %}
            recomputed.{{ column }},
            {%- endfor %}
            {%- if before %}
            case
                when recomputed.valid_from = date '{{ before }}'
                then coalesce(held_on_before.valid_from, recomputed.valid_from)
                else recomputed.valid_from
            end as valid_from,
            {%- else %}
            recomputed.valid_from,
            {%- endif %}
            {%- if after %}
            -- holds on N, the last day recomputed: ends where the published version did
            case
                when recomputed.valid_to is null then held_on_after.valid_to
                else recomputed.valid_to
            end as valid_to
            {%- else %}
            recomputed.valid_to
            {%- endif %}
        -- on the key alone (a key has one version holding on a day): a condition on the
        -- recomputed side in the join would make DuckDB loop over every pair (6 s at SF 1)
        from recomputed
        {%- if before %}
        left join held_on_before
            on recomputed.{{ key }} = held_on_before.{{ key }}
        {%- endif %}
        {%- if after %}
        left join held_on_after
            on recomputed.{{ key }} = held_on_after.{{ key }}
        {%- endif %}

    )

    select
        {{ key }},
        {%- for column in tracked %}
        {{ column }},
        {%- endfor %}
        valid_from,
        valid_to,
        valid_to is null as is_current
    from stitched
    union all
    select
        {{ key }},
        {%- for column in tracked %}
        {{ column }},
        {%- endfor %}
        valid_from,
        valid_to,
        is_current
    from unchanged
    {%- endif -%}
{%- endmacro %}
