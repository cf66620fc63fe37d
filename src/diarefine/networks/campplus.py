"""CAM++ (Wang et al., 2023, "CAM++: A Fast and Efficient Network for Speaker Verification Using
Context-Aware Masking"), 3D-Speaker's speaker-embedding network, and its Kaldi fbank input.

80-bin Kaldi fbank [B, T, 80] (25 ms / 10 ms frames, mean-normalised over the segment) ->
FCM head (2-D residual convolutions over (frequency, time), frequency strided by 8) ->
TDNN (stride 2) -> three densely connected blocks of CAM layers (12, 24, 16 layers; each a
bottleneck, a dilated conv, and a context-aware mask from the segment's and 100-frame
segments' means), each followed by a transition halving the channels -> statistics pooling
(mean and std over time) -> dense layer -> 192-d embedding.

Module and parameter names follow 3D-Speaker's ``CAMPPlus`` so its state dicts load with a
strict key match (937 tensors for ``feat_dim=80, embedding_size=192``).
"""

from __future__ import annotations

import copy
import functools
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from ..errors import DiarefineError, InputFileError
from .parallel import map_batches

FBANK_INSTALL_HINT = "pip install kaldi-native-fbank (a dependency of diarefine; reinstall with -c constraints.txt)"


@dataclass(frozen=True)
class CAMPPlusConfig:
    """Sizes of CAM++ (the zh-en advanced model's by default)."""

    feat_dim: int = 80
    embedding_size: int = 192
    growth_rate: int = 32
    bn_size: int = 4
    init_channels: int = 128
    head_channels: int = 32
    block_layers: tuple[int, ...] = (12, 24, 16)
    block_dilations: tuple[int, ...] = (1, 2, 2)


def _batchnorm_relu(channels: int, relu: bool = True, affine: bool = True) -> nn.Sequential:
    """BatchNorm1d (+ ReLU), named as 3D-Speaker's ``get_nonlinear`` names them."""
    layers = OrderedDict([("batchnorm", nn.BatchNorm1d(channels, affine=affine))])
    if relu:
        layers["relu"] = nn.ReLU(inplace=True)
    return nn.Sequential(layers)


def _pointwise(conv: nn.Conv1d, x: torch.Tensor) -> torch.Tensor:
    """A 1x1 ``conv`` (with bias) of [B, C, T] as a matrix product: the same map without the convolution's
    per-call overhead, which dominates on the few frames of `CAMLayer`'s segment means."""
    return torch.matmul(conv.weight[:, :, 0], x) + conv.bias[:, None]


class ResBlock2d(nn.Module):
    """Residual block of two 3x3 convolutions over (frequency, time); frequency strided by ``stride``."""

    def __init__(self, in_planes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=(stride, 1), padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Sequential(nn.Conv2d(in_planes, planes, 1, stride=(stride, 1), bias=False),
                                          nn.BatchNorm2d(planes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(out + self.shortcut(x))


class FCM(nn.Module):
    """The 2-D front: fbank [B, F, T] -> [B, channels * F / 8, T]."""

    def __init__(self, channels: int, feat_dim: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, channels, 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.layer1 = nn.Sequential(ResBlock2d(channels, channels, stride=2), ResBlock2d(channels, channels))
        self.layer2 = nn.Sequential(ResBlock2d(channels, channels, stride=2), ResBlock2d(channels, channels))
        self.conv2 = nn.Conv2d(channels, channels, 3, stride=(2, 1), padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.out_channels = channels * ((feat_dim + 7) // 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # channels-last 2-D activations: oneDNN's convolutions run about a fifth faster on CPUs that way
        out = F.relu(self.bn1(self.conv1(x.unsqueeze(1).contiguous(memory_format=torch.channels_last))))
        out = F.relu(self.bn2(self.conv2(self.layer2(self.layer1(out)))))
        b, c, f, t = out.shape
        return out.contiguous().reshape(b, c * f, t)


class TDNNLayer(nn.Module):
    """Conv1d (no bias) -> BatchNorm -> ReLU."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1) -> None:
        super().__init__()
        self.linear = nn.Conv1d(in_channels, out_channels, kernel_size, stride=stride, padding=kernel_size // 2,
                                bias=False)
        self.nonlinear = _batchnorm_relu(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.nonlinear(self.linear(x))


class CAMLayer(nn.Module):
    """A dilated conv whose output is gated by a context-aware mask: sigmoid of an MLP of the mean of
    the whole segment plus the mean of the 100-frame segment each frame falls in."""

    def __init__(self, bn_channels: int, out_channels: int, kernel_size: int, dilation: int,
                 reduction: int = 2, segment: int = 100) -> None:
        super().__init__()
        self.segment = segment
        self.linear_local = nn.Conv1d(bn_channels, out_channels, kernel_size, padding=(kernel_size - 1) // 2 * dilation,
                                      dilation=dilation, bias=False)
        self.linear1 = nn.Conv1d(bn_channels, bn_channels // reduction, 1)
        self.relu = nn.ReLU(inplace=True)
        self.linear2 = nn.Conv1d(bn_channels // reduction, out_channels, 1)

    def segment_means(self, x: torch.Tensor) -> torch.Tensor:
        """[B, C, T] -> [B, C, ceil(T / segment)]: the mean of each ``segment``-frame stretch."""
        return F.avg_pool1d(x, kernel_size=self.segment, stride=self.segment, ceil_mode=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # the context is constant over each segment, so the mask's MLP runs once per segment, not per frame
        context = x.mean(-1, keepdim=True) + self.segment_means(x)  # [B, C, S]
        mask = torch.sigmoid(_pointwise(self.linear2, self.relu(_pointwise(self.linear1, context))))
        return self.linear_local(x) * mask.repeat_interleave(self.segment, dim=-1)[..., :x.shape[-1]]


class CAMDenseLayer(nn.Module):
    """BatchNorm-ReLU -> 1x1 bottleneck -> BatchNorm-ReLU -> `CAMLayer`: ``growth`` new channels."""

    def __init__(self, in_channels: int, growth: int, bn_channels: int, kernel_size: int, dilation: int) -> None:
        super().__init__()
        self.nonlinear1 = _batchnorm_relu(in_channels)
        self.linear1 = nn.Conv1d(in_channels, bn_channels, 1, bias=False)
        self.nonlinear2 = _batchnorm_relu(bn_channels)
        self.cam_layer = CAMLayer(bn_channels, growth, kernel_size, dilation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.cam_layer(self.nonlinear2(self.linear1(self.nonlinear1(x))))


class CAMDenseBlock(nn.ModuleDict):
    """Densely connected `CAMDenseLayer`s: each sees every earlier output, concatenated on channels."""

    def __init__(self, n_layers: int, in_channels: int, growth: int, bn_channels: int, kernel_size: int,
                 dilation: int) -> None:
        super().__init__({f"tdnnd{i + 1}": CAMDenseLayer(in_channels + i * growth, growth, bn_channels, kernel_size,
                                                         dilation) for i in range(n_layers)})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.values():
            x = torch.cat([x, layer(x)], dim=1)
        return x


class TransitLayer(nn.Module):
    """BatchNorm-ReLU -> 1x1 conv (no bias): the channels between two dense blocks."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.nonlinear = _batchnorm_relu(in_channels)
        self.linear = nn.Conv1d(in_channels, out_channels, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(self.nonlinear(x))


class StatsPool(nn.Module):
    """[B, C, T] -> [B, 2C]: mean and (unbiased) standard deviation over time."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x.mean(-1), x.std(-1)], dim=-1)


class DenseLayer(nn.Module):
    """Pooled statistics [B, 2C] -> embedding [B, E]: a 1x1 conv and a BatchNorm without affine terms."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.linear = nn.Conv1d(in_channels, out_channels, 1, bias=False)
        self.nonlinear = nn.Sequential(OrderedDict([("batchnorm", nn.BatchNorm1d(out_channels, affine=False))]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.nonlinear(self.linear(x.unsqueeze(-1)).squeeze(-1))


class CAMPPlus(nn.Module):
    """CAM++: fbank [B, T, 80] (mean-normalised) -> speaker embedding [B, 192] (not normalised)."""

    def __init__(self, config: CAMPPlusConfig = CAMPPlusConfig()) -> None:
        super().__init__()
        c = self.config = config
        self.head = FCM(c.head_channels, c.feat_dim)
        xvector: OrderedDict[str, nn.Module] = OrderedDict(tdnn=TDNNLayer(self.head.out_channels, c.init_channels, 5,
                                                                          stride=2))
        channels = c.init_channels
        for i, (n_layers, dilation) in enumerate(zip(c.block_layers, c.block_dilations), 1):
            xvector[f"block{i}"] = CAMDenseBlock(n_layers, channels, c.growth_rate, c.bn_size * c.growth_rate, 3,
                                                 dilation)
            channels += n_layers * c.growth_rate
            xvector[f"transit{i}"] = TransitLayer(channels, channels // 2)
            channels //= 2
        xvector["out_nonlinear"] = _batchnorm_relu(channels)
        xvector["stats"] = StatsPool()
        xvector["dense"] = DenseLayer(2 * channels, c.embedding_size)
        self.xvector = nn.Sequential(xvector)

    def forward(self, fbank: torch.Tensor) -> torch.Tensor:
        """fbank [B, T, F] (T >= 2 frames) -> embeddings [B, E]."""
        return self.xvector(self.head(fbank.transpose(1, 2)))


#: Fbank frames per CAM++ call on a CPU: larger batches spill its activations out of the caches and cost
#: up to twice as much per chunk (2 cores: 32 chunks of 1.6 s at once 39 ms each, 8-16 at once 18-21 ms).
BATCH_FRAMES = 2048


def batch_size_for(n_frames: int, max_batch: int) -> int:
    """How many fbank sequences of ``n_frames`` frames go through CAM++ at once: at most ``max_batch``
    and about `BATCH_FRAMES` frames in all (at least one).

    >>> batch_size_for(160, 32), batch_size_for(40, 32), batch_size_for(5000, 32)
    (12, 32, 1)
    """
    return max(1, min(max_batch, BATCH_FRAMES // max(1, n_frames)))


def load_campplus(path: str | Path, config: CAMPPlusConfig = CAMPPlusConfig()) -> CAMPPlus:
    """CAM++ with the weights of a 3D-Speaker state dict (float16 or float32; strict key match), eval mode."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a file that is not a checkpoint
        raise InputFileError(path, f"not a readable CAM++ state dict ({type(exc).__name__}: {exc})") from None
    if not isinstance(state, dict):
        raise InputFileError(path, "not a CAM++ state dict (expected a dict of tensors)")
    model = CAMPPlus(config)
    try:
        model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()}, strict=True)
    except RuntimeError as exc:
        raise InputFileError(path, f"not a CAM++ state dict of this size ({exc})") from None
    return model.eval()


#: Kaldi fbank of CAM++'s training: 80 bins at 16 kHz, 25 ms frames every 10 ms, no dither.
FBANK_HOP = 160
FBANK_WINDOW = 400


def n_fbank_frames(n_samples):
    """How many frames `kaldi_fbank` gives for ``n_samples`` of audio (an int or an integer array).

    >>> n_fbank_frames(399), n_fbank_frames(400), n_fbank_frames(16_000)
    (0, 1, 98)
    """
    frames = np.maximum(0, 1 + (np.asarray(n_samples) - FBANK_WINDOW) // FBANK_HOP)
    return int(frames) if frames.ndim == 0 else frames


def kaldi_fbank(audio: np.ndarray, n_mels: int = 80, sample_rate: int = 16_000,
                block_samples: int = 60 * 16_000) -> np.ndarray:
    """Kaldi log-mel filterbank of mono audio [N] float32 (kaldi-native-fbank, exactly Kaldi's) ->
    [F, n_mels] with F = 1 + (N - 400) // 160 frames (frame f covers samples [160 f, 160 f + 400)).
    Kaldi's frames are independent of each other (no dither), so the audio goes in blocks of about
    ``block_samples``, each block's frames computed from its own samples side by side on the cores
    (`parallel.map_batches`) and written into the output: the same frames as one pass, and an hour
    takes the output's memory (115 MB) and a block per core, not several times it."""
    try:
        import kaldi_native_fbank as knf
    except ImportError as exc:
        raise DiarefineError(f"kaldi-native-fbank cannot be imported ({exc}): {FBANK_INSTALL_HINT}") from None
    options = knf.FbankOptions()
    options.frame_opts.dither = 0.0
    options.frame_opts.samp_freq = sample_rate
    options.mel_opts.num_bins = n_mels
    n_frames = n_fbank_frames(len(audio))
    out = np.empty((n_frames, n_mels), np.float32)
    per_block = max(1, block_samples // FBANK_HOP)

    def fill(first: int) -> None:  # frames [first, last) from samples [160 first, 160 (last - 1) + 400)
        last = min(first + per_block, n_frames)
        fbank = knf.OnlineFbank(options)
        fbank.accept_waveform(sample_rate, np.ascontiguousarray(
            audio[first * FBANK_HOP:(last - 1) * FBANK_HOP + FBANK_WINDOW], dtype=np.float32))
        fbank.input_finished()
        if fbank.num_frames_ready != last - first:
            raise RuntimeError(f"kaldi-native-fbank gave {fbank.num_frames_ready} frames for frames "
                               f"{first}-{last} of {len(audio)} samples, expected {last - first}")
        for i in range(last - first):
            out[first + i] = fbank.get_frame(i)

    map_batches(fill, range(0, n_frames, per_block))
    return out


def _fold_batchnorm(owner: nn.Module, conv_name: str, norm_owner: nn.Module, norm_name: str) -> None:
    """Fold the BatchNorm ``norm_owner.norm_name`` into the convolution ``owner.conv_name`` before it."""
    setattr(owner, conv_name, fuse_conv_bn_eval(getattr(owner, conv_name), getattr(norm_owner, norm_name)))
    setattr(norm_owner, norm_name, nn.Identity())


def fused_for_inference(model: CAMPPlus, in_place: bool = False) -> CAMPPlus:
    """A frozen copy of ``model`` (``model`` itself with ``in_place``) whose BatchNorms that follow a convolution
    are folded into it (torch's ``fuse_conv_bn_eval``): the same embeddings up to float rounding (cosine >
    0.99999), about 5% faster on CPUs. Its state dict has fewer keys: keep ``model`` to save or train."""
    fused = (model if in_place else copy.deepcopy(model)).eval().requires_grad_(False)
    head = fused.head
    _fold_batchnorm(head, "conv1", head, "bn1")
    _fold_batchnorm(head, "conv2", head, "bn2")
    for block in (*head.layer1, *head.layer2):
        _fold_batchnorm(block, "conv1", block, "bn1")
        _fold_batchnorm(block, "conv2", block, "bn2")
        if len(block.shortcut):
            block.shortcut = nn.Sequential(fuse_conv_bn_eval(*block.shortcut))
    trunk = fused.xvector
    _fold_batchnorm(trunk.tdnn, "linear", trunk.tdnn.nonlinear, "batchnorm")
    for dense_block in (module for module in trunk if isinstance(module, CAMDenseBlock)):
        for layer in dense_block.values():
            _fold_batchnorm(layer, "linear1", layer.nonlinear2, "batchnorm")
    return fused


@functools.lru_cache(maxsize=2)
def shared_campplus(path: str) -> CAMPPlus:
    """`load_campplus`, `fused_for_inference`, once per process and weight file, for frozen inference (the
    segmentation diarizer and the ``campplus`` embedder embed many files with it)."""
    return fused_for_inference(load_campplus(path), in_place=True)  # no copy: start-up of every command
