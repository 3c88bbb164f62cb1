"""Data quality: the raw gate's asset checks, quarantine and incidents, alerting, automation
conditions and freshness policies. `quality_definitions(spec)` (definitions.py) is the capability
every domain gets; the modules here import no domain."""
