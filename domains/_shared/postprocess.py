"""The single place where an entity's clean frames are altered before they are written: the
defects asked for in `request.defects` are planted here (per entity name, see defects.py), so
simulators stay clean and the defects stay in one reviewable module."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import polars as pl

from domains._shared.defects import defects_for
from wdc_orchestration.raw.generation.request import GenerationRequest

Generator = Callable[[GenerationRequest], Iterator[pl.DataFrame]]


def postprocess(
    entity: str, request: GenerationRequest, frames: Iterator[pl.DataFrame]
) -> Iterator[pl.DataFrame]:
    """Frames of `entity` as they should be written: unchanged on a clean day; with the requested
    row-level defects planted in the first chunk otherwise (an unknown defect name raises)."""
    planted = [d for d in defects_for(entity, request.defects) if d.frame is not None]
    if not planted:
        yield from frames
        return
    for number, frame in enumerate(frames):
        if number == 0:
            for defect in planted:
                frame = defect.frame(frame)  # type: ignore[misc]
        yield frame


def damage_file(entity: str, request: GenerationRequest, path: Path) -> bool:
    """Plant the requested file-level defects of `entity` in its finished file; True if any."""
    planted = [d for d in defects_for(entity, request.defects) if d.file is not None]
    for defect in planted:
        defect.file(path)  # type: ignore[misc]
    return bool(planted)


class EntityGenerator:
    """A clean generator whose frames go through `postprocess`, and whose finished file goes
    through `damage_file` (the raw landing calls `finish_file` after writing)."""

    def __init__(self, entity: str, generate: Generator) -> None:
        self.entity = entity
        self._generate = generate
        self.__name__ = f"generate_{entity}"
        self.__doc__ = generate.__doc__

    def __call__(self, request: GenerationRequest) -> Iterator[pl.DataFrame]:
        return postprocess(self.entity, request, self._generate(request))

    def finish_file(self, request: GenerationRequest, path: Path) -> bool:
        return damage_file(self.entity, request, path)


def with_postprocess(entity: str, generate: Generator) -> Generator:
    """Wrap a clean generator so its frames go through `postprocess` (and its file through
    `damage_file`)."""
    return EntityGenerator(entity, generate)
