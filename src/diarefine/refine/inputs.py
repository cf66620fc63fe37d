"""The inputs some models take beyond features and speaker embeddings (`BoundaryModel.extra_inputs`),
computed from the windows' audio: the waveform itself (``waves``, ``wave_mask``) and embeddings
of short analysis windows sliding across it (``sliding_emb``). ``refine`` and ``evaluate``
both build them here, so a model sees the same inputs in both.
"""

from __future__ import annotations

import numpy as np
import torch

from ..dsp import sliding_spans
from ..embeddings import SpeakerEmbedder
from ..models import BoundaryModel
from ..units import SAMPLE_RATE


def extra_inputs(model: BoundaryModel, waves: np.ndarray, valid: np.ndarray,
                 embedder: SpeakerEmbedder | None) -> dict[str, torch.Tensor]:
    """waves [B, N] float32 16 kHz and valid [B, N] bool -> the extra batch entries ``model`` asks for."""
    out: dict[str, torch.Tensor] = {}
    if "waves" in model.extra_inputs:
        out["waves"], out["wave_mask"] = torch.from_numpy(waves), torch.from_numpy(valid)
    if "sliding_emb" in model.extra_inputs:
        if embedder is None:
            raise ValueError(f"{model.name} needs a speaker embedder for its sliding embeddings")
        c = model.config
        spans = sliding_spans(waves.shape[1] / SAMPLE_RATE, c.analysis_s, c.hop_s)
        labels = ["?"] * len(spans)
        out["sliding_emb"] = torch.from_numpy(np.stack([embedder.embed_spans(w, spans, labels) for w in waves]))
    return out
