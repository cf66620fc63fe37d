"""WeSpeaker speaker embeddings from a local ONNX export, run with onnxruntime.

WeSpeaker models take Kaldi-style log-mel fbank (80 bins, 25 ms window, 10 ms hop, int16
amplitude scale, mean-normalised over the chunk) as ``[B, T, 80]`` and return ``[B, E]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..errors import DiarefineError, InputFileError
from ..features.fbank import log_mel, mel_filterbank
from ..units import SAMPLE_RATE
from .base import EMBEDDERS, SpeakerEmbedder, group_by_length, l2_normalize

INSTALL_HINT = "pip install 'diarefine[wespeaker]'"
FBANK_HOP = SAMPLE_RATE // 100  # 10 ms
FBANK_WIN = SAMPLE_RATE * 25 // 1000


@EMBEDDERS.register("wespeaker-onnx")
class WeSpeakerOnnxEmbedder(SpeakerEmbedder):
    """A WeSpeaker ONNX model (e.g. ResNet34 exported by ``wespeaker/bin/export_onnx.py``)."""

    @dataclass(frozen=True)
    class Config:
        model_path: str = ""
        n_mels: int = 80
        batch_size: int = 64
        threads: int = 1

    def __init__(self, config: "WeSpeakerOnnxEmbedder.Config | None" = None) -> None:
        super().__init__(config)
        try:
            import onnxruntime as ort
        except ImportError:
            raise DiarefineError(f"the wespeaker-onnx embedder needs onnxruntime: {INSTALL_HINT}") from None
        path = Path(self.config.model_path)
        if not self.config.model_path or not path.is_file():
            raise InputFileError(path, "WeSpeaker ONNX model not found; set embeddings.model_path to a local .onnx file")
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.config.threads
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types
            raise InputFileError(path, f"cannot be loaded as an ONNX model ({exc})") from None
        self.input_name = self.session.get_inputs()[0].name
        self.filters = mel_filterbank(512, self.config.n_mels, 20.0, SAMPLE_RATE / 2)
        probe = self.session.run(None, {self.input_name: np.zeros((1, 100, self.config.n_mels), np.float32)})[0]
        self._dim = int(probe.shape[-1])

    @property
    def dim(self) -> int:
        return self._dim

    def fbank(self, waves: np.ndarray) -> np.ndarray:
        """[B, N] float32 in [-1, 1] -> Kaldi-style mean-normalised fbank [B, N // 160, n_mels]."""
        feats = log_mel(torch.from_numpy(waves * 32768.0), win=FBANK_WIN, hop=FBANK_HOP, n_fft=512,
                        filters=self.filters)
        return (feats - feats.mean(dim=1, keepdim=True)).float().numpy()

    def embed_spans(self, audio: np.ndarray, spans: np.ndarray, speakers: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(spans), self.dim), np.float32)
        for n_frames, idx in group_by_length(spans, SAMPLE_RATE / FBANK_HOP).items():
            n_samples = n_frames * FBANK_HOP
            starts = np.minimum(np.round(spans[idx, 0] * SAMPLE_RATE).astype(int), max(len(audio) - n_samples, 0))
            waves = np.stack([np.pad(audio[s:s + n_samples], (0, max(0, s + n_samples - len(audio)))) for s in starts])
            feats = self.fbank(waves.astype(np.float32))
            for lo in range(0, len(idx), self.config.batch_size):
                emb = self.session.run(None, {self.input_name: feats[lo:lo + self.config.batch_size]})[0]
                out[idx[lo:lo + self.config.batch_size]] = emb.reshape(len(emb), -1)
        return l2_normalize(out)
