"""Resemblyzer's GE2E d-vector (256-d; its weights ship inside the resemblyzer wheel)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DiarefineError, InputFileError
from .base import EMBEDDERS, SpeakerEmbedder, group_by_length, l2_normalize

INSTALL_HINT = "pip install resemblyzer (a dependency of diarefine; reinstall with -c constraints.txt)"
MEL_RATE = 100.0  # resemblyzer's mel frames per second (10 ms hop)
TARGET_DBFS = -30.0  # resemblyzer's volume normalisation


@EMBEDDERS.register("resemblyzer")
class ResemblyzerEmbedder(SpeakerEmbedder):
    """GE2E LSTM over 40-bin mel frames; chunk embeddings are its partial-utterance embeddings."""

    @dataclass(frozen=True)
    class Config:
        weights: str = ""  # a custom encoder .pt; empty: the one in the resemblyzer wheel
        batch_size: int = 64

    def __init__(self, config: "ResemblyzerEmbedder.Config | None" = None) -> None:
        super().__init__(config)
        try:
            import torch

            with warnings.catch_warnings():  # its scipy / pkg_resources imports are deprecated upstream
                warnings.simplefilter("ignore", DeprecationWarning)
                warnings.simplefilter("ignore", UserWarning)
                from resemblyzer import VoiceEncoder
        except ImportError as exc:
            raise DiarefineError(f"the resemblyzer embedder cannot be imported ({exc}): {INSTALL_HINT}") from None
        if self.config.weights and not Path(self.config.weights).is_file():
            raise InputFileError(self.config.weights, "resemblyzer weights not found")
        self._torch = torch
        self.encoder = VoiceEncoder(device="cpu", verbose=False, weights_fpath=self.config.weights or None).eval()

    @property
    def dim(self) -> int:
        return 256

    def mel(self, audio: np.ndarray) -> np.ndarray:
        """Whole-file resemblyzer mel frames [F, 40] after its -30 dBFS level normalisation."""
        from resemblyzer.audio import wav_to_mel_spectrogram

        rms = float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))) if audio.size else 0.0
        gain = 10 ** ((TARGET_DBFS - 20 * np.log10(rms)) / 20) if rms > 0 else 1.0
        return wav_to_mel_spectrogram((audio * gain).astype(np.float32))

    def embed_spans(self, audio: np.ndarray, spans: np.ndarray, speakers: Sequence[str]) -> np.ndarray:
        mel = self.mel(audio)
        out = np.zeros((len(spans), self.dim), np.float32)
        torch = self._torch
        for n_frames, idx in group_by_length(spans, MEL_RATE).items():
            starts = np.minimum(np.round(spans[idx, 0] * MEL_RATE).astype(int), max(len(mel) - n_frames, 0))
            batch = np.stack([mel[s:s + n_frames] for s in starts])
            for lo in range(0, len(idx), self.config.batch_size):
                with torch.inference_mode():
                    emb = self.encoder(torch.from_numpy(batch[lo:lo + self.config.batch_size]))
                out[idx[lo:lo + self.config.batch_size]] = emb.float().numpy()  # float32 under any autocast
        return l2_normalize(out)
