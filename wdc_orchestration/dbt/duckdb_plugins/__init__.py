"""dbt-duckdb plugins (profiles.yml): storage, governance, session."""
