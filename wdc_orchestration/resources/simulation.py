"""How big, and which, world the source-system simulators produce."""

import dagster as dg


class SimulationResource(dg.ConfigurableResource):
    """Volume and seed of the simulated source systems; run config may override them per run."""

    scale_factor: float = 1.0
    seed: int = 42
    chunk_rows: int = 250_000
