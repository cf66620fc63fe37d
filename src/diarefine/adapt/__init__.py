"""Adapting the refiner to a user's own recordings without labels (issue 18): harvest single-speaker
stretches with the system's hypothesis, re-mix them into conversations of exact boundaries.
``diarefine adapt`` (prepare, fine-tune, threshold) is not built yet."""

from .harvest import (
           HarvestConfig,
           HarvestStats,
           Stretch,
           harvest_file,
           shrink,
           snap_to_pauses,
           solo_regions,
)
from .remix import RemixConfig, plan_groups, remix, write_sources

__all__ = ["HarvestConfig", "HarvestStats", "RemixConfig", "Stretch", "harvest_file", "plan_groups", "remix",
           "shrink", "snap_to_pauses", "solo_regions", "write_sources"]
