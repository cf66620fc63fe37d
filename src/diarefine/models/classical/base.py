"""What the classical (non-learned) refiners share: no parameters, no loss, a calibrated confidence.

They sit in the `MODELS` registry next to the learned variants so that ``evaluate``,
``refine`` and every table treat them alike; ``trainable = False`` makes ``train`` refuse
them. Their confidence is ``sigmoid((score - bias) / scale)`` of a variant-specific score
(BIC gain, similarity contrast, ...), with ``bias`` and ``scale`` fitted on dev windows by
``benchmarks/calibrate_baselines.py`` (logistic regression of "the window holds a change and
the prediction is within 200 ms of it" on the score).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from ...errors import DiarefineError
from ..base import Batch, BoundaryModel, ModelConfig


@dataclass(frozen=True)
class CalibratedConfig(ModelConfig):
    """Settings every classical refiner has: the score -> confidence mapping."""

    confidence_bias: float = 0.0
    confidence_scale: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.confidence_scale <= 0:
            raise ValueError("confidence_scale must be positive")


class ClassicalRefiner(BoundaryModel):
    """Base of the non-learned refiners: subclasses implement ``predict_with_score``."""

    trainable: ClassVar[bool] = False
    Config: ClassVar[type[ModelConfig]] = CalibratedConfig
    #: The speaker embedder this refiner prefers when `refine` builds it on the default front end
    #: (None: the default embedder).
    embeddings: ClassVar[str | None] = None

    def predict_with_score(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """(offset_s [B], raw score [B]; -inf where the refiner finds nothing to move)."""
        raise NotImplementedError

    def forward(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """The window batch (with the variant's ``extra_inputs``) -> (offset_s [B], s from the window
        centre, within +/-max_offset_s; confidence [B] in [0, 1]: sigmoid((score - bias) / scale))."""
        offset_s, score = self.predict_with_score(batch)
        confidence = torch.sigmoid((score - self.config.confidence_bias) / self.config.confidence_scale)
        return offset_s.float().clamp(-self.config.max_offset_s, self.config.max_offset_s), confidence.float()

    def losses(self, batch: Batch) -> dict[str, torch.Tensor]:
        raise DiarefineError(f"{self.name} is a classical refiner: it has nothing to train; use it directly "
                             f"(`diarefine refine --model {self.name}`; `evaluate` always includes it)")
