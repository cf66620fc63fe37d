"""Adapting the refiner to a user's own recordings without labels (issue 18; harvest only so far)."""

from .harvest import (
    HarvestConfig,
    HarvestStats,
    Stretch,
    harvest_file,
    shrink,
    snap_to_pauses,
    solo_regions,
)

__all__ = ["HarvestConfig", "HarvestStats", "Stretch", "harvest_file", "shrink", "snap_to_pauses", "solo_regions"]
