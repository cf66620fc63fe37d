"""Adapting the refiner to a user's own recordings without labels (``diarefine adapt``): harvest
single-speaker stretches with the system's hypothesis (`harvest`), re-mix them into conversations
of exact boundaries (`remix`), then prepare, fine-tune and re-tune the threshold (`pipeline`);
`card` writes the adapted checkpoint's model card."""

from .harvest import (
           HarvestConfig,
           HarvestStats,
           Stretch,
           harvest_file,
           shrink,
           snap_to_pauses,
           solo_regions,
)
from .pipeline import (
           AdaptConfig,
           AdaptResult,
           HeldOutScore,
           adapt,
           choose_threshold,
           refinement_cost,
)
from .remix import RemixConfig, plan_groups, remix, remix_sources, write_sources

__all__ = ["AdaptConfig", "AdaptResult", "HarvestConfig", "HarvestStats", "HeldOutScore", "RemixConfig", "Stretch",
           "adapt", "choose_threshold", "harvest_file", "plan_groups", "refinement_cost", "remix", "remix_sources",
           "shrink", "snap_to_pauses", "solo_regions", "write_sources"]
