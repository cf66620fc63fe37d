"""WavLM hidden states as features (HF ``transformers``, weights from a local directory only).

WavLM's convolutional front end gives 199 frames for 4 s at 16 kHz (20 ms hop, 25 ms
receptive field); the base class pads to the configured frame count by repeating the last
frame (logged once). ``mix`` picks one hidden layer, the average of all layers, or a learned
softmax-weighted mix (trainable, so usable when features are computed on the fly, not cached).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch

from ..errors import DiarefineError, InputFileError
from .base import FEATURES, FeatureExtractor, FrameConfig

log = logging.getLogger(__name__)
INSTALL_HINT = "pip install 'diarefine[wavlm]'"
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


def load_wavlm(model_dir: str | Path):
    """``WavLMModel.from_pretrained(model_dir)`` in eval mode, with clear errors; never downloads."""
    try:
        from transformers import WavLMModel
    except ImportError:
        raise DiarefineError(f"the wavlm front end needs transformers: {INSTALL_HINT}") from None
    path = Path(model_dir)
    if not str(model_dir) or not path.is_dir():
        raise InputFileError(path, "WavLM model folder not found; give features.model_dir = a local folder "
                                   "holding config.json and model.safetensors (from save_pretrained)")
    if not (path / "config.json").is_file() or not any((path / f).is_file() for f in WEIGHT_FILES):
        raise InputFileError(path, f"no WavLM weights here: expected config.json and one of {', '.join(WEIGHT_FILES)}")
    model = WavLMModel.from_pretrained(str(path), local_files_only=True)
    return model.eval()


def _reads_normalized_input(model_dir: Path) -> bool:
    """The checkpoint's own ``do_normalize`` (preprocessor_config.json), False when absent."""
    pre = model_dir / "preprocessor_config.json"
    return bool(json.loads(pre.read_text()).get("do_normalize", False)) if pre.is_file() else False


@FEATURES.register("wavlm")
class WavLMFeatures(FeatureExtractor):
    """One hidden layer, or a mix of layers, of a local WavLM checkpoint (frozen)."""

    @dataclass(frozen=True)
    class Config(FrameConfig):
        model_dir: str = ""
        mix: Literal["layer", "average", "learned"] = "layer"
        layer: int = 6  # hidden-state index for mix = "layer" (0 = input of the first block, L = last)
        normalize: bool | None = None  # per-window zero mean / unit variance; None: as the checkpoint says

    def __init__(self, config: "WavLMFeatures.Config | None" = None) -> None:
        super().__init__(config)
        c = self.config
        self.model = load_wavlm(c.model_dir)
        self.model.requires_grad_(False)
        self.n_layers = self.model.config.num_hidden_layers + 1
        if c.mix == "layer" and not 0 <= c.layer < self.n_layers:
            raise DiarefineError(f"features.layer = {c.layer} but {c.model_dir} has hidden states 0..{self.n_layers - 1}")
        self.normalize = _reads_normalized_input(Path(c.model_dir)) if c.normalize is None else c.normalize
        self.cacheable = c.mix != "learned"
        if c.mix == "learned":
            self.layer_logits = torch.nn.Parameter(torch.zeros(self.n_layers))
        self._told_padding = False

    @property
    def dim(self) -> int:
        return self.model.config.hidden_size

    def frames(self, waves: torch.Tensor) -> torch.Tensor:
        if self.normalize:
            waves = (waves - waves.mean(1, keepdim=True)) / (waves.std(1, keepdim=True) + 1e-7)
        with torch.set_grad_enabled(self.config.mix == "learned" and torch.is_grad_enabled()):
            out = self.model(waves, output_hidden_states=True)
        if self.config.mix == "layer":
            feats = out.hidden_states[self.config.layer]
        else:
            stacked = torch.stack(out.hidden_states, dim=0)  # [L+1, B, T', H]
            weights = (torch.softmax(self.layer_logits, 0) if self.config.mix == "learned"
                       else torch.full((self.n_layers,), 1.0 / self.n_layers, device=stacked.device))
            feats = torch.einsum("l,lbth->bth", weights.to(stacked.dtype), stacked)
        if feats.shape[1] != self.n_frames and not self._told_padding:
            log.info("WavLM gives %d frames per window; %s to %d", feats.shape[1],
                     "padding (repeating the last frame)" if feats.shape[1] < self.n_frames else "cropping",
                     self.n_frames)
            self._told_padding = True
        return feats
