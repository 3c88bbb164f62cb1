"""The columns of every state product's history (docs/time_model.md): the mesh's one convention,
so a consumer's as-of join reads the same on every dimension. Written by the dbt macro
(dbt_project/macros/state_history.sql), read by the day fingerprints
(lakehouse/day_fingerprints.py) and checked in each state product's contract
(governance/descriptor.py)."""

VALID_FROM, VALID_TO, IS_CURRENT = "valid_from", "valid_to", "is_current"
