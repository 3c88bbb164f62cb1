"""Resources every domain's code location gets: the lake, the lakehouse (DuckLake), dbt and the
source-system simulation settings (see registry.build_resources)."""
