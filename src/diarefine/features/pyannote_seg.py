"""``pyannote-seg``: frame features from pyannote's segmentation-3.0 (`networks.pyannet.PyanNet`), a model
of who speaks when trained on about ten real diarization corpora.

The network runs on the window plus ``context_s`` on each side (3 s: the 10 s chunks it was
trained on; near a chunk's edges its local speakers are less reliable), and one of its layers
becomes the window's features: ``lstm`` (256-d), ``linear`` (its last hidden layer, 128-d) or
``logprobs`` (the 7 powerset log-probabilities, floored at -10). With ``with_fbank`` the
80-d log-mel of `fbank.Fbank` is appended.

Frame grid: the network gives a frame every 16.875 ms; each of the window's 20 ms frames
takes the linear interpolation of the two network frames around its centre. Keeping every
front end on one 50 frames/s grid lets every boundary model, the cache layout and the
``fbank`` concatenation stay as they are; the network's grid is the finer one, so little is
lost.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from ..audio import trim_context
from ..networks.pyannet import PyanNetOutputs, shared_pyannet
from ..networks.weights import SEGMENTATION_3, weights_path
from ..units import FRAME_S
from .base import FEATURES, FeatureExtractor, FrameConfig, frame_mask
from .fbank import Fbank

#: Floor of the powerset log-probabilities (about 4.5e-5), so that features stay bounded.
LOG_PROB_FLOOR = -10.0


def interpolate_frames(features: torch.Tensor, source_s: torch.Tensor, target_s: torch.Tensor) -> torch.Tensor:
    """Linear interpolation in time: features [B, F, D] at times source_s [F] (increasing, s) -> [B, T, D]
    at times target_s [T] (the same for every row) or [B, T] (one set per row); targets outside the source
    range take its first / last frame.

    >>> interpolate_frames(torch.tensor([[[0.0], [10.0]]]), torch.tensor([0.0, 1.0]),
    ...                    torch.tensor([-1.0, 0.25, 2.0])).flatten().tolist()
    [0.0, 2.5, 10.0]
    >>> interpolate_frames(torch.tensor([[[0.0], [10.0]]] * 2), torch.tensor([0.0, 1.0]),
    ...                    torch.tensor([[0.5], [0.75]])).flatten().tolist()
    [5.0, 7.5]
    """
    position = torch.clamp(target_s, source_s[0], source_s[-1]).expand(len(features), -1)  # [B, T]
    right = torch.searchsorted(source_s, position.contiguous()).clamp(1, len(source_s) - 1)
    left = right - 1
    weight = ((position - source_s[left]) / (source_s[right] - source_s[left])).to(features.dtype).unsqueeze(-1)
    rows = torch.arange(len(features), device=features.device)[:, None]
    return features[rows, left] * (1 - weight) + features[rows, right] * weight


@FEATURES.register("pyannote-seg")
class PyannoteSegmentation(FeatureExtractor):
    """One layer of segmentation-3.0 over the window (+ context), on the 50 frames/s grid; frozen."""

    @dataclass(frozen=True)
    class Config(FrameConfig):
        weights: str = ""  # a pyannote.audio segmentation checkpoint; empty: the shipped segmentation-3.0
        output: Literal["lstm", "linear", "logprobs"] = "linear"
        with_fbank: bool = False  # append the 80-d log-mel filterbank
        context_s: float = 3.0  # audio read on each side of the window (4 + 2 x 3 = 10 s)

        def __post_init__(self) -> None:
            super().__post_init__()
            if self.context_s < 0:
                raise ValueError("context_s must be >= 0")

    def __init__(self, config: "PyannoteSegmentation.Config | None" = None) -> None:
        super().__init__(config)
        self.network = shared_pyannet(str(weights_path(self.config.weights, SEGMENTATION_3)))
        self.fbank = Fbank(Fbank.Config(n_frames=self.n_frames)) if self.config.with_fbank else None

    @property
    def dim(self) -> int:
        c, net = self.config, self.network.config
        width = {"lstm": 2 * net.lstm_hidden, "linear": net.linear_hidden, "logprobs": net.n_classes}[c.output]
        return width + (self.fbank.dim if self.fbank is not None else 0)

    @property
    def context_s(self) -> float:
        return self.config.context_s

    def forward(self, waves: torch.Tensor, valid: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """waves [B, N] float32 at 16 kHz covering the window and ``context_s`` on each side, valid [B, N]
        -> features [B, T, D] and mask [B, T] of the window's frames (zero where the mask is False)."""
        with torch.no_grad():  # frozen
            return self.from_layers(self.network.layers(waves), waves, valid)

    def from_layers(self, layers: PyanNetOutputs, waves: torch.Tensor,
                    valid: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """`forward` with the network's outputs on ``waves`` already computed (``refine`` shares one pass
        between these features and the shape matchers' speaker-count posterior)."""
        if valid is None:
            valid = torch.ones_like(waves, dtype=torch.bool)
        window_start_s = torch.full((len(waves),), self.context_s)
        return self.window_features(layers, window_start_s, trim_context(waves, self.context_s),
                                    trim_context(valid, self.context_s))

    def window_features(self, layers: PyanNetOutputs, window_start_s: torch.Tensor, window: torch.Tensor,
                        window_valid: torch.Tensor, rows: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Features [B, T, D] and mask [B, T] of windows inside longer audio the network ran on: ``layers``
        [R, F, ...] its outputs on R pieces of audio, ``rows`` [B] which piece holds each window (default:
        one each), ``window_start_s`` [B] where the window starts in it (s; the network was trained with
        ``context_s`` or more around it), ``window`` / ``window_valid`` [B, N] the window's own samples
        (``refine`` runs one pass over a region holding several changes; `refine.regions`)."""
        feats = {"lstm": layers.lstm, "linear": layers.linear,
                 "logprobs": layers.log_probs.clamp(min=LOG_PROB_FLOOR)}[self.config.output]
        if rows is not None:
            feats = feats[rows]
        source_s = self.network.frame_centres_s(feats.shape[1]).to(feats.device)
        target_s = window_start_s.to(feats.device)[:, None] + \
            (torch.arange(self.n_frames, device=feats.device) + 0.5) * FRAME_S
        feats = interpolate_frames(feats, source_s, target_s)
        mask = frame_mask(window_valid, self.n_frames)
        if self.fbank is not None:
            feats = torch.cat([feats, self.fbank(window, window_valid)[0]], dim=-1)
        return feats * mask.unsqueeze(-1).to(feats.dtype), mask
