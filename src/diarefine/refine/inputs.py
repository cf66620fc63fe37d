"""The inputs some models take beyond features and speaker embeddings (`BoundaryModel.extra_inputs`),
computed from the windows' audio: the waveform itself (``waves``, ``wave_mask``), embeddings of
short analysis windows sliding across it (``sliding_emb``), segmentation-3.0's local speakers
(``local_speakers``: ``seg_activity``, ``seg_emb``, ``seg_emb_ok``) and its speaker-count posterior
(``seg_count``); and those the caller knows from the hypothesis (`HYPOTHESIS_INPUTS`): the ``pause``
and the ``overlap`` between the speakers of each change (``pause_s``, ``clean_overlap_s``;
`types.Change`). ``refine`` and ``evaluate`` both build them here, so a model sees the same inputs
in both.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch

from ..audio import trim_context
from ..dsp import sliding_spans
from ..embeddings import SpeakerEmbedder
from ..errors import DiarefineError
from ..features.pyannote_seg import interpolate_frames
from ..models import BoundaryModel
from ..networks.pyannet import PyanNet, powerset_classes, powerset_to_speakers, shared_pyannet
from ..networks.weights import SEGMENTATION_3, weights_path
from ..types import Change
from ..units import FRAME_S, SAMPLE_RATE


#: Extra input kind -> the batch key of a per-change quantity read off the hypothesis (s; `types.Change`).
HYPOTHESIS_INPUTS = {"pause": "pause_s", "overlap": "clean_overlap_s"}


def hypothesis_inputs(changes: Sequence[Change]) -> dict[str, np.ndarray]:
    """Every `HYPOTHESIS_INPUTS` quantity of ``changes``: batch key -> [C] float32 (s)."""
    return {key: np.array([getattr(c, key) for c in changes], np.float32) for key in HYPOTHESIS_INPUTS.values()}


def extra_inputs(model: BoundaryModel, waves: np.ndarray, valid: np.ndarray, embedder: SpeakerEmbedder | None,
                 hypothesis: Mapping[str, np.ndarray] | None = None) -> dict[str, torch.Tensor]:
    """waves [B, N] float32 16 kHz and valid [B, N] bool, the windows with ``model.extra_context_s`` of
    audio on each side, and ``hypothesis`` (batch key -> [B], `hypothesis_inputs` of the windows'
    changes) -> the extra batch entries ``model`` asks for."""
    out: dict[str, torch.Tensor] = {}
    window, window_valid = trim_context(waves, model.extra_context_s), trim_context(valid, model.extra_context_s)
    if "waves" in model.extra_inputs:
        out["waves"], out["wave_mask"] = torch.from_numpy(window), torch.from_numpy(window_valid)
    if "sliding_emb" in model.extra_inputs:
        c = model.config
        spans = sliding_spans(window.shape[1] / SAMPLE_RATE, c.analysis_s, c.hop_s)
        labels = ["?"] * len(spans)
        out["sliding_emb"] = torch.from_numpy(np.stack([_embedder(model, embedder).embed_spans(w, spans, labels)
                                                        for w in window]))
    if "local_speakers" in model.extra_inputs:  # such a model's config names the segmentation weights and its minimum
        c = model.config
        out.update(local_speakers(waves, model.extra_context_s, c.n_frames, _embedder(model, embedder), c.weights,
                                  c.min_speech_s))
    if "seg_count" in model.extra_inputs:
        out["seg_count"] = speaker_count_posterior(waves, model.config.weights)
    for kind, key in HYPOTHESIS_INPUTS.items():
        if kind in model.extra_inputs:
            if hypothesis is None or key not in hypothesis:
                raise DiarefineError(f"{model.name} needs {key} of each change from the hypothesis: refine gives "
                                     f"it; a cache gives it when `prepare` stored {key} (rebuild older caches)")
            out[key] = torch.as_tensor(np.asarray(hypothesis[key]), dtype=torch.float32)
    return out


def _embedder(model: BoundaryModel, embedder: SpeakerEmbedder | None) -> SpeakerEmbedder:
    if embedder is None:
        raise ValueError(f"{model.name} needs the speaker embedder of its left / right embeddings")
    return embedder


def segmentation_network(weights: str = "") -> PyanNet:
    """The process's shared segmentation network of ``weights`` (empty: the shipped segmentation-3.0)."""
    return shared_pyannet(str(weights_path(weights, SEGMENTATION_3)))


@torch.inference_mode()
def speaker_count_posterior(waves: np.ndarray, weights: str = "") -> torch.Tensor:
    """segmentation-3.0's probabilities that nobody, one speaker, two or more speak, [B, T', 3] on the
    `units.FRAME_S` grid across all of ``waves`` [B, N] (frame i centred (i + 0.5) x FRAME_S after the
    first sample): its powerset classes summed by size, interpolated from its 16.875 ms frames."""
    network = segmentation_network(weights)
    return count_from_log_probs(network, network(torch.from_numpy(np.ascontiguousarray(waves))), waves.shape[1])


def count_from_log_probs(network: PyanNet, log_probs: torch.Tensor, n_samples: int,
                         start_s: torch.Tensor | None = None) -> torch.Tensor:
    """`speaker_count_posterior` from the network's powerset log-probabilities [B, F, 7] (for a caller that
    already ran it): on ``n_samples`` of audio from the start of each row's audio, or from ``start_s`` [B]
    (s) into it (``refine`` runs one pass over a region holding several changes)."""
    sizes = torch.tensor([len(c) for c in powerset_classes(network.config.n_speakers,
                                                           network.config.max_speakers_per_frame)])
    by_size = torch.nn.functional.one_hot(sizes.clamp(max=2), 3).to(log_probs.dtype)  # [7, 3]
    count = log_probs.exp() @ by_size
    n_frames = round(n_samples / SAMPLE_RATE / FRAME_S)
    target_s = (torch.arange(n_frames) + 0.5) * FRAME_S
    if start_s is not None:
        target_s = start_s[:, None] + target_s
    return interpolate_frames(count, network.frame_centres_s(log_probs.shape[1]), target_s).float()


@torch.inference_mode()
def local_speakers(waves: np.ndarray, context_s: float, n_frames: int, embedder: SpeakerEmbedder,
                   weights: str = "", min_speech_s: float = 0.5) -> dict[str, torch.Tensor]:
    """segmentation-3.0's local speakers of each window, from the window and ``context_s`` around it:

    * ``seg_activity`` [B, T, S]: each local speaker's activity probability on the window's frames;
    * ``seg_emb`` [B, S, E]: the embedding of each local speaker's speech in the whole chunk where it
      is the only one active (``embedder``, so it compares with the left / right embeddings);
    * ``seg_emb_ok`` [B, S] bool: False (and a zero embedding) with less than ``min_speech_s`` of it.
    """
    network = segmentation_network(weights)
    activity = powerset_to_speakers(network(torch.from_numpy(np.ascontiguousarray(waves))),
                                    network.config.n_speakers, network.config.max_speakers_per_frame)  # [B, F, S]
    source_s = network.frame_centres_s(activity.shape[1])
    target_s = context_s + (torch.arange(n_frames) + 0.5) * FRAME_S
    on_window = interpolate_frames(activity, source_s, target_s)
    alone = (activity > 0.5) & ((activity > 0.5).sum(-1, keepdim=True) == 1)  # [B, F, S]
    pieces, owners = [], []
    half_step = network.frame_step // 2
    for b in range(len(waves)):
        for s in range(activity.shape[2]):
            frames = torch.nonzero(alone[b, :, s]).flatten().numpy()
            if len(frames) * network.frame_step < min_speech_s * SAMPLE_RATE:
                continue
            centres = frames * network.frame_step + network.receptive_field // 2
            keep = np.zeros(waves.shape[1], bool)
            for c in centres:
                keep[max(c - half_step, 0):c + half_step] = True
            pieces.append(waves[b, keep])
            owners.append((b, s))
    emb = np.zeros((len(waves), activity.shape[2], embedder.dim), np.float32)
    if pieces:
        ends = np.cumsum([len(p) for p in pieces]) / SAMPLE_RATE
        spans = np.stack([np.concatenate([[0.0], ends[:-1]]), ends], axis=1)
        vectors = embedder.embed_spans(np.concatenate(pieces), spans, ["?"] * len(pieces))
        for (b, s), vector in zip(owners, vectors):
            emb[b, s] = vector
    ok = np.zeros(emb.shape[:2], bool)
    for b, s in owners:
        ok[b, s] = True
    return {"seg_activity": on_window.float(), "seg_emb": torch.from_numpy(emb), "seg_emb_ok": torch.from_numpy(ok)}
