"""dbt: the project and its manifest, the runner, lineage, the audited build."""
