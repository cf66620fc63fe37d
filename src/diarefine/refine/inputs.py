"""The inputs some models take beyond features and speaker embeddings (`BoundaryModel.extra_inputs`),
computed from the windows' audio: the waveform itself (``waves``, ``wave_mask``), embeddings of
short analysis windows sliding across it (``sliding_emb``), segmentation-3.0's local speakers
(``local_speakers``: ``seg_activity``, ``seg_emb``, ``seg_emb_ok``) and its speech posterior
(``seg_speech``); and one the caller knows from the hypothesis, the ``pause`` at each change
(``pause_s``, `types.Change.pause_s`). ``refine`` and ``evaluate`` both build them here, so a model sees the same
inputs in both.
"""

from __future__ import annotations

import numpy as np
import torch

from ..audio import trim_context
from ..dsp import sliding_spans
from ..embeddings import SpeakerEmbedder
from ..errors import DiarefineError
from ..features.pyannote_seg import interpolate_frames
from ..models import BoundaryModel
from ..networks.pyannet import powerset_to_speakers, shared_pyannet
from ..networks.weights import SEGMENTATION_3, weights_path
from ..units import FRAME_S, SAMPLE_RATE


def extra_inputs(model: BoundaryModel, waves: np.ndarray, valid: np.ndarray,
                 embedder: SpeakerEmbedder | None, pause_s: np.ndarray | None = None) -> dict[str, torch.Tensor]:
    """waves [B, N] float32 16 kHz and valid [B, N] bool, the windows with ``model.extra_context_s`` of
    audio on each side, and ``pause_s`` [B] (the silence between each window's two speakers in the
    hypothesis, s; `types.Change.pause_s`) -> the extra batch entries ``model`` asks for."""
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
    if "seg_speech" in model.extra_inputs:
        out["seg_speech"] = speech_posterior(waves, model.config.weights)
    if "pause" in model.extra_inputs:
        if pause_s is None:
            raise DiarefineError(f"{model.name} needs the hypothesis's pause at each change: refine gives it; "
                                 "a cache gives it when `prepare` built it with pause_s (rebuild older caches)")
        out["pause_s"] = torch.as_tensor(np.asarray(pause_s), dtype=torch.float32)
    return out


def _embedder(model: BoundaryModel, embedder: SpeakerEmbedder | None) -> SpeakerEmbedder:
    if embedder is None:
        raise ValueError(f"{model.name} needs the speaker embedder of its left / right embeddings")
    return embedder


@torch.inference_mode()
def speech_posterior(waves: np.ndarray, weights: str = "") -> torch.Tensor:
    """segmentation-3.0's probability that anyone speaks, [B, T'] on the `units.FRAME_S` grid across all
    of ``waves`` [B, N] (frame i centred (i + 0.5) x FRAME_S after the first sample): one minus its
    "no speaker" powerset class, interpolated from its 16.875 ms frames."""
    network = shared_pyannet(str(weights_path(weights, SEGMENTATION_3)))
    log_probs = network(torch.from_numpy(np.ascontiguousarray(waves)))  # [B, F, 7]; class 0: no speaker
    speech = 1.0 - log_probs[..., :1].exp()
    n_frames = round(waves.shape[1] / SAMPLE_RATE / FRAME_S)
    target_s = (torch.arange(n_frames) + 0.5) * FRAME_S
    return interpolate_frames(speech, network.frame_centres_s(log_probs.shape[1]), target_s)[..., 0].float()


@torch.inference_mode()
def local_speakers(waves: np.ndarray, context_s: float, n_frames: int, embedder: SpeakerEmbedder,
                   weights: str = "", min_speech_s: float = 0.5) -> dict[str, torch.Tensor]:
    """segmentation-3.0's local speakers of each window, from the window and ``context_s`` around it:

    * ``seg_activity`` [B, T, S]: each local speaker's activity probability on the window's frames;
    * ``seg_emb`` [B, S, E]: the embedding of each local speaker's speech in the whole chunk where it
      is the only one active (``embedder``, so it compares with the left / right embeddings);
    * ``seg_emb_ok`` [B, S] bool: False (and a zero embedding) with less than ``min_speech_s`` of it.
    """
    network = shared_pyannet(str(weights_path(weights, SEGMENTATION_3)))
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
