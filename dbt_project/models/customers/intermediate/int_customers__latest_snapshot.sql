-- The customer base as of the run: the latest daily snapshot on or before var('max_date').
-- Snapshots are full, so the latest one holds every customer that ever existed; rerunning an older
-- day (max_date in the past) rebuilds the dimension as it was then.
with customers as (

    select * from {{ ref('stg_customers__customers') }}
    where partition_date <= {{ run_window_end() }}

),

latest as (

    select max(partition_date) as snapshot_date
    from customers

)

select customers.*
from customers
inner join latest
    on customers.partition_date = latest.snapshot_date
