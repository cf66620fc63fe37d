"""PyanNet, the network of pyannote's segmentation-3.0, and a reader of its checkpoint that needs no
pyannote.audio.

16 kHz audio [B, N] -> SincNet -> 4-layer bidirectional LSTM -> linear layers -> 7 powerset
log-probabilities per frame:

* SincNet: instance-normalised waveform; 80 parametrised sinc band-pass filters of 251 taps,
  stride 10 (asteroid-filterbanks' ``ParamSincFB``), absolute value; then two 5-tap
  convolutions to 60 channels; each stage max-pools by 3, instance-normalises and applies a
  leaky ReLU.
* Frames: one every 270 samples (16.875 ms), each seeing 991 samples (61.9 ms); frame f is
  centred on ``(270 f + 495) / 16000`` s; 10 s of audio give 589 frames.
* Powerset classes (3 local speakers, at most 2 at once): no speaker, {1}, {2}, {3},
  {1, 2}, {1, 3}, {2, 3}; `powerset_to_speakers` turns them into per-speaker activity.

Parameter names follow pyannote.audio's, so its checkpoints load with a strict key match.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import InputFileError
from .parallel import map_batches, spread_batch_size

#: (kernel, stride) of SincNet's convolution and pooling stages, in order.
_STAGES = ((251, 10), (3, 3), (5, 1), (3, 3), (5, 1), (3, 3))


@dataclass(frozen=True)
class PyanNetConfig:
    """Sizes of PyanNet (segmentation-3.0's by default)."""

    sample_rate: int = 16_000
    stride: int = 10  # of the sinc filters
    lstm_hidden: int = 128  # per direction
    lstm_layers: int = 4
    linear_hidden: int = 128
    linear_layers: int = 2
    n_speakers: int = 3  # local speakers per chunk
    max_speakers_per_frame: int = 2
    sinc_filters: int = 80
    conv_channels: int = 60

    @property
    def n_classes(self) -> int:
        return len(powerset_classes(self.n_speakers, self.max_speakers_per_frame))


def powerset_classes(n_speakers: int, max_per_frame: int) -> list[tuple[int, ...]]:
    """The speaker sets of the powerset classes, in pyannote's order.

    >>> powerset_classes(3, 2)
    [(), (0,), (1,), (2,), (0, 1), (0, 2), (1, 2)]
    """
    return [c for k in range(max_per_frame + 1) for c in itertools.combinations(range(n_speakers), k)]


def powerset_to_speakers(log_probs: torch.Tensor, n_speakers: int = 3, max_per_frame: int = 2) -> torch.Tensor:
    """Powerset log-probabilities [..., C] -> each local speaker's activity probability [..., S]."""
    classes = powerset_classes(n_speakers, max_per_frame)
    mapping = torch.zeros(len(classes), n_speakers, dtype=log_probs.dtype, device=log_probs.device)
    for c, speakers in enumerate(classes):
        mapping[c, list(speakers)] = 1.0
    return log_probs.exp() @ mapping


class SincNet(nn.Module):
    """Waveforms [B, 1, N] -> frame features [B, 60, F] (see the module docstring)."""

    def __init__(self, config: PyanNetConfig) -> None:
        super().__init__()
        from asteroid_filterbanks import Encoder, ParamSincFB

        c = config
        self.wav_norm1d = nn.InstanceNorm1d(1, affine=True)
        sinc = Encoder(ParamSincFB(c.sinc_filters, _STAGES[0][0], stride=c.stride, sample_rate=c.sample_rate,
                                   min_low_hz=50, min_band_hz=50))
        self.conv1d = nn.ModuleList([sinc, nn.Conv1d(c.sinc_filters, c.conv_channels, _STAGES[2][0]),
                                     nn.Conv1d(c.conv_channels, c.conv_channels, _STAGES[4][0])])
        self.pool1d = nn.ModuleList(nn.MaxPool1d(3, stride=3) for _ in range(3))
        self.norm1d = nn.ModuleList([nn.InstanceNorm1d(c.sinc_filters, affine=True),
                                     nn.InstanceNorm1d(c.conv_channels, affine=True),
                                     nn.InstanceNorm1d(c.conv_channels, affine=True)])

    @property
    def shared_step(self) -> int:
        """Samples between two outputs of the sinc filters (10): chunks cut out of longer audio at multiples
        of it share them (`first_stage_of_chunks`)."""
        return self.conv1d[0].stride

    def forward(self, waves: torch.Tensor) -> torch.Tensor:
        return self.after_first_stage(self.first_stage(waves))

    def first_stage(self, waves: torch.Tensor) -> torch.Tensor:
        """Waves [B, 1, N] -> max-pooled |sinc(norm(waves))| [B, 80, F1]."""
        return self.pool1d[0](self.conv1d[0](self.wav_norm1d(waves)).abs())

    def after_first_stage(self, first_stage: torch.Tensor) -> torch.Tensor:
        """`first_stage` [B, 80, F1] (or `first_stage_of_chunks`) -> frame features [B, 60, F]."""
        x = F.leaky_relu(self.norm1d[0](first_stage))
        for conv, pool, norm in list(zip(self.conv1d, self.pool1d, self.norm1d))[1:]:
            x = F.leaky_relu(norm(pool(conv(x))))
        return x

    @torch.no_grad()
    @torch.autocast("cpu", enabled=False)  # the shared sinc algebra below needs float32 under any autocast
    def first_stage_of_chunks(self, audio: torch.Tensor, starts: torch.Tensor, n_samples: int,
                              block: int = 480_000) -> torch.Tensor:
        """The first stage, max-pooled |sinc(norm(chunk))| [B, 80, F1], of the chunks ``audio[s:s + n_samples]``
        for s in ``starts`` [B] of raw audio [M], F1 = ((N - 251) // 10 + 1) // 3; the chunks whose start is a
        multiple of `shared_step` share the sinc convolution, the others run alone.

        The sinc convolution is linear and the waveform's instance norm an affine map a x + b, so a chunk's
        sinc outputs are a y + c with y those of the raw audio, computed once (``block`` samples at a time,
        bounded memory) for all chunks; and since |.| is convex, the max of |a y + c| over a pool is at the
        pool's max or min of y, pooled once per pooling phase. Equal to `forward`'s up to float rounding."""
        filters = self.conv1d[0].filterbank.filters()  # [80, 1, 251]
        taps, stride, pool = filters.shape[-1], self.conv1d[0].stride, self.pool1d[0].stride
        off_grid = starts % stride != 0
        if bool(off_grid.any()):  # those run alone
            out = torch.empty(len(starts), filters.shape[0], ((n_samples - taps) // stride + 1) // pool)
            if not bool(off_grid.all()):
                out[~off_grid] = self.first_stage_of_chunks(audio, starts[~off_grid], n_samples, block)
            alone = torch.stack([audio[s:s + n_samples] for s in starts[off_grid].tolist()])
            out[off_grid] = self.first_stage(alone[:, None])
            return out
        end = int(starts.max()) + n_samples
        n_sinc = (n_samples - taps) // stride + 1  # per chunk
        block = max(stride, block // stride * stride)
        sinc = torch.empty(filters.shape[0], (end - taps) // stride + 1)  # [80, S]: y, written block by block
        for lo in range(0, end - taps + 1, block):
            part = F.conv1d(audio[lo:min(lo + block + taps - 1, end)][None, None], filters, stride=stride)[0]
            sinc[:, lo // stride:lo // stride + part.shape[-1]] = part
        waves = torch.stack([audio[s:s + n_samples] for s in starts.tolist()])  # [B, N]
        norm = self.wav_norm1d
        gain = norm.weight / torch.sqrt(waves.var(-1, unbiased=False) + norm.eps)  # [B]: a = gain, its sign the norm's
        offset = (norm.bias - gain * waves.mean(-1))[:, None, None] * filters.sum(-1)  # [B, 80, 1]: c
        # max |a y + c| over a pool = max(a max y + c, -a min y - c) for a >= 0 (mirrored for a < 0)
        sign = 1.0 if float(norm.weight) >= 0 else -1.0
        n_out, first = n_sinc // pool, starts // stride  # pooled frames per chunk; each chunk's first sinc output
        out, other = torch.empty(len(starts), filters.shape[0], n_out), torch.empty(filters.shape[0], n_out)
        for phase in (first % pool).unique().tolist():
            pools = sinc[:, phase:phase + (sinc.shape[-1] - phase) // pool * pool].unflatten(-1, (-1, pool))  # a view
            high, high_of_negated = pools.amax(-1), pools.amin(-1).neg_()  # [80, M1]: max y, -min y over each pool
            up, down = (high, high_of_negated) if sign > 0 else (high_of_negated, high)
            for i in torch.nonzero(first % pool == phase)[:, 0].tolist():
                frames = slice(int(first[i] - phase) // pool, int(first[i] - phase) // pool + n_out)
                size = float(gain[i]) * sign
                torch.add(offset[i], up[:, frames], alpha=size, out=out[i])
                torch.add(-offset[i], down[:, frames], alpha=size, out=other)
                torch.maximum(out[i], other, out=out[i])
        return out


@dataclass(frozen=True)
class PyanNetOutputs:
    """Every layer a front end may read, per frame: lstm [B, F, 2H], linear [B, F, L], log_probs [B, F, C]."""

    lstm: torch.Tensor
    linear: torch.Tensor
    log_probs: torch.Tensor

    @staticmethod
    def concatenate(parts: list["PyanNetOutputs"]) -> "PyanNetOutputs":
        """The outputs of consecutive batches of chunks as one."""
        if len(parts) == 1:
            return parts[0]
        return PyanNetOutputs(*(torch.cat([getattr(p, f) for p in parts]) for f in ("lstm", "linear", "log_probs")))


class PyanNet(nn.Module):
    """pyannote's PyanNet: audio [B, N] at 16 kHz -> powerset log-probabilities [B, F, 7]."""

    def __init__(self, config: PyanNetConfig = PyanNetConfig()) -> None:
        super().__init__()
        c = self.config = config
        self.sincnet = SincNet(c)
        self.lstm = nn.LSTM(c.conv_channels, c.lstm_hidden, num_layers=c.lstm_layers, bidirectional=True,
                            batch_first=True)
        widths = [2 * c.lstm_hidden] + [c.linear_hidden] * c.linear_layers
        self.linear = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:]))
        self.classifier = nn.Linear(widths[-1], c.n_classes)

    def _stages(self) -> list[tuple[int, int]]:
        """(kernel, stride) of every convolution and pooling stage, the sinc stride from the config."""
        return [(kernel, self.config.stride if i == 0 else stride) for i, (kernel, stride) in enumerate(_STAGES)]

    @property
    def frame_step(self) -> int:
        """Samples between two frames (270)."""
        return math.prod(stride for _, stride in self._stages())

    @property
    def receptive_field(self) -> int:
        """Samples one frame sees (991)."""
        field, jump = 1, 1
        for kernel, stride in self._stages():
            field += (kernel - 1) * jump
            jump *= stride
        return field

    def n_frames(self, n_samples: int) -> int:
        """Frames out of ``n_samples`` of audio (589 for 10 s)."""
        for kernel, stride in self._stages():
            n_samples = (n_samples - kernel) // stride + 1
        return n_samples

    def frame_centres_s(self, n_frames: int) -> torch.Tensor:
        """[F] centre of each frame, seconds from the first sample."""
        return (torch.arange(n_frames) * self.frame_step + self.receptive_field / 2) / self.config.sample_rate

    def layers(self, waves: torch.Tensor, max_batch: int = 16) -> PyanNetOutputs:
        """Audio [B, N] float32 at 16 kHz -> the outputs of the LSTM, the last linear layer and the classifier.

        At most ``max_batch`` chunks go through at once (SincNet's first layer holds 80 x N / 10 floats
        per chunk); every chunk is independent of the others, so the result does not depend on it. Batches
        run side by side on the cores (`parallel.map_batches`; a few chunks spread over them)."""
        size = spread_batch_size(len(waves), max_batch)
        return PyanNetOutputs.concatenate(map_batches(
            lambda lo: self._after_sincnet(self.sincnet(waves[lo:lo + size].unsqueeze(1))),
            range(0, max(1, len(waves)), size)))

    @torch.no_grad()
    def layers_of_chunks(self, stretches: Sequence[tuple[torch.Tensor, torch.Tensor]], n_samples: int,
                         max_batch: int = 16) -> PyanNetOutputs:
        """`layers` of the chunks ``audio[s:s + n_samples]`` for s in ``starts`` [B_i] (multiples of
        `SincNet.shared_step`, or they run alone) of each ``(audio [M_i], starts)`` of ``stretches``, in order, with
        SincNet's sinc filters run once over each stretch instead of once per chunk (`SincNet.first_stage_of_chunks`):
        overlapping chunks (``refine``'s changes a few seconds apart) share them. The same outputs as
        `layers` up to float rounding. For frozen inference (no gradients). Stretches, then batches, run side by
        side on the cores (`parallel.map_batches`)."""
        first_stage = torch.cat(map_batches(lambda stretch: self.sincnet.first_stage_of_chunks(*stretch, n_samples),
                                            stretches))
        size = spread_batch_size(len(first_stage), max_batch)
        return PyanNetOutputs.concatenate(map_batches(
            lambda lo: self._after_sincnet(self.sincnet.after_first_stage(first_stage[lo:lo + size])),
            range(0, len(first_stage), size)))

    def _after_sincnet(self, frames: torch.Tensor) -> PyanNetOutputs:
        """SincNet's frame features [B, 60, F] -> the LSTM, last linear layer and classifier outputs."""
        lstm, _ = self.lstm(frames.transpose(1, 2))  # [B, F, 2H]
        h = lstm
        for linear in self.linear:
            h = F.leaky_relu(linear(h))
        return PyanNetOutputs(lstm, h, F.log_softmax(self.classifier(h), dim=-1))

    def forward(self, waves: torch.Tensor) -> torch.Tensor:
        """Audio [B, N] float32 at 16 kHz -> powerset log-probabilities [B, F, C]."""
        return self.layers(waves).log_probs


class _PyannoteObject:
    """Stands in for the pyannote.audio objects pickled beside the weights (task specifications)."""

    def __init__(self, *args, **kwargs) -> None:
        self.args = args

    def __setstate__(self, state) -> None:
        self.__dict__.update(state if isinstance(state, dict) else {"state": state})


_PICKLED_CLASSES = ("pyannote.audio.core.task.Specifications", "pyannote.audio.core.task.Problem",
                    "pyannote.audio.core.task.Resolution")


def read_pyannote_checkpoint(path: str | Path) -> dict:
    """The dict of a pyannote.audio checkpoint (``state_dict``, ``hyper_parameters``, ...), read with
    torch's weights-only unpickler; the pyannote.audio objects in it become inert stand-ins."""
    from torch.torch_version import TorchVersion

    stand_ins = [(type(name.rsplit(".", 1)[1], (_PyannoteObject,), {}), name) for name in _PICKLED_CLASSES]
    try:
        with torch.serialization.safe_globals([*stand_ins, TorchVersion]):
            checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a file that is not a checkpoint
        raise InputFileError(path, f"not a readable pyannote.audio checkpoint ({type(exc).__name__}: {exc})") from None
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise InputFileError(path, "not a pyannote.audio checkpoint (no state_dict)")
    return checkpoint


def config_from_hyper_parameters(hparams: dict, state_dict: dict) -> PyanNetConfig:
    """The `PyanNetConfig` of a checkpoint (sizes from its hyper-parameters and tensor shapes)."""
    lstm, linear = hparams.get("lstm", {}), hparams.get("linear", {})
    if not lstm.get("bidirectional", True) or not lstm.get("monolithic", True):
        raise ValueError("only the monolithic bidirectional LSTM of segmentation-3.0 is supported")
    n_classes = int(state_dict["classifier.weight"].shape[0])
    fits = [(s, m) for s in range(1, 9) for m in range(1, s + 1) if len(powerset_classes(s, m)) == n_classes]
    n_speakers, max_per_frame = fits[0] if fits else (n_classes, 1)
    return PyanNetConfig(sample_rate=int(hparams.get("sample_rate", 16_000)),
                         stride=int(hparams.get("sincnet", {}).get("stride", 10)),
                         lstm_hidden=int(lstm.get("hidden_size", 128)), lstm_layers=int(lstm.get("num_layers", 4)),
                         linear_hidden=int(linear.get("hidden_size", 128)),
                         linear_layers=int(linear.get("num_layers", 2)),
                         n_speakers=n_speakers, max_speakers_per_frame=max_per_frame)


def load_pyannet(path: str | Path) -> PyanNet:
    """PyanNet with the weights of a pyannote.audio checkpoint (strict: every key matched), in eval mode."""
    checkpoint = read_pyannote_checkpoint(path)
    state = checkpoint["state_dict"]
    try:
        model = PyanNet(config_from_hyper_parameters(checkpoint.get("hyper_parameters", {}), state))
        model.load_state_dict(state, strict=True)
    except (KeyError, ValueError, RuntimeError) as exc:
        raise InputFileError(path, f"not a PyanNet checkpoint this code can rebuild ({exc})") from None
    return model.eval()


@functools.lru_cache(maxsize=4)
def shared_pyannet(path: str) -> PyanNet:
    """`load_pyannet` once per process and weight file, for frozen inference shared by several users
    (the ``pyannote-seg`` features and ``segmentation-snap``'s inputs)."""
    model = load_pyannet(path)
    model.requires_grad_(False)
    return model
