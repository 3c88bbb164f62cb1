"""The single place where an entity's clean frames could be altered before they are written.

Today it passes frames through untouched. The data-quality work plants `request.defects` here
(per entity name), so simulators stay clean and the defects stay in one reviewable module.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import polars as pl

from wdc_orchestration.generation.request import GenerationRequest

Generator = Callable[[GenerationRequest], Iterator[pl.DataFrame]]


def postprocess(
    entity: str, request: GenerationRequest, frames: Iterator[pl.DataFrame]
) -> Iterator[pl.DataFrame]:
    """Frames of `entity` as they should be written (clean: unchanged; defects: none yet)."""
    del entity  # used once defects are planted per entity
    if not request.defects:
        yield from frames
        return
    # No defect is implemented yet: an unknown defect name leaves the data clean.
    yield from frames


def with_postprocess(entity: str, generate: Generator) -> Generator:
    """Wrap a clean generator so its frames go through `postprocess`."""

    def generate_entity(request: GenerationRequest) -> Iterator[pl.DataFrame]:
        return postprocess(entity, request, generate(request))

    generate_entity.__name__ = f"generate_{entity}"
    generate_entity.__doc__ = generate.__doc__
    return generate_entity
