"""The pretrained networks (PyanNet / segmentation-3.0, CAM++) and their front ends: tiny random models
of the same architecture for save / load / shapes, and the shipped weights for behaviour."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from diarefine.audio import audio_info, load_audio, read_window
from diarefine.embeddings import EMBEDDERS
from diarefine.embeddings.campplus import span_fbanks, span_frames
from diarefine.errors import InputFileError
from diarefine.features import FEATURES
from diarefine.networks.campplus import (
    CAMPPlus,
    CAMPPlusConfig,
    fused_for_inference,
    kaldi_fbank,
    load_campplus,
    n_fbank_frames,
)
from diarefine.networks.pyannet import (
    PyanNet,
    PyanNetConfig,
    load_pyannet,
    powerset_to_speakers,
    read_pyannote_checkpoint,
)
from diarefine.networks.weights import CAMPPLUS_ZH_EN, SEGMENTATION_3, shipped_weights
from diarefine.rttm import read_rttm
from diarefine.samples import bundled_sample

SAMPLE = bundled_sample()
TINY_PYANNET = PyanNetConfig(lstm_hidden=8, lstm_layers=2, linear_hidden=8)
TINY_CAMPPLUS = CAMPPlusConfig(embedding_size=16, growth_rate=8, bn_size=2, init_channels=16, head_channels=8,
                               block_layers=(2, 2, 2))


def save_pyannote_checkpoint(model: PyanNet, path: Path) -> Path:
    """A checkpoint laid out as pyannote.audio's (state_dict + hyper_parameters)."""
    c = model.config
    torch.save({"state_dict": model.state_dict(),
                "hyper_parameters": {"sample_rate": c.sample_rate, "sincnet": {"stride": c.stride},
                                     "lstm": {"hidden_size": c.lstm_hidden, "num_layers": c.lstm_layers,
                                              "bidirectional": True, "monolithic": True},
                                     "linear": {"hidden_size": c.linear_hidden, "num_layers": c.linear_layers}}},
               path)
    return path


def test_pyannet_frames_and_a_strict_save_load(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = PyanNet(TINY_PYANNET).eval()
    assert (model.frame_step, model.receptive_field, model.n_frames(160_000)) == (270, 991, 589)
    waves = torch.randn(2, 32_000)
    with torch.no_grad():
        out = model.layers(waves)
    f = model.n_frames(32_000)
    assert out.lstm.shape == (2, f, 16) and out.linear.shape == (2, f, 8) and out.log_probs.shape == (2, f, 7)
    assert torch.allclose(out.log_probs.exp().sum(-1), torch.ones(2, f), atol=1e-5)
    with torch.no_grad():
        assert torch.equal(model.layers(waves, max_batch=1).log_probs, out.log_probs)  # chunks are independent
    again = load_pyannet(save_pyannote_checkpoint(model, tmp_path / "tiny.bin"))
    with torch.no_grad():
        assert again.config == TINY_PYANNET and torch.equal(again(waves), model(waves))
    speakers = powerset_to_speakers(out.log_probs)
    assert speakers.shape == (2, f, 3) and float(speakers.max()) <= 1.0 + 1e-6


@pytest.mark.parametrize("norm_weight", [0.3, -0.2])
def test_pyannet_chunks_of_longer_audio_share_the_sinc_stage(norm_weight: float) -> None:
    """`layers_of_chunks` runs the sinc filters once over the audio; each chunk's first stage then comes from
    the shared outputs' pooled max / min with its own instance norm: the same as running every chunk alone."""
    torch.manual_seed(0)
    model = PyanNet(TINY_PYANNET).eval()
    with torch.no_grad():  # trained-like norms: a scale and offset on the waveform, not the identity
        model.sincnet.wav_norm1d.weight.fill_(norm_weight)
        model.sincnet.wav_norm1d.bias.fill_(0.05)
    audio = torch.randn(60_000) * torch.linspace(0.1, 2.0, 60_000) + 0.01  # level and mean vary along it
    starts = torch.tensor([0, 90, 3_000, 21_010, 30_020])  # overlapping, on the 10-sample grid, 3 pooling phases
    assert model.sincnet.shared_step == 10
    with torch.no_grad():
        alone = model.layers(torch.stack([audio[s:s + 29_970] for s in starts.tolist()]))
        shared = model.layers_of_chunks([(audio[:33_000], starts[:3]), (audio, starts[3:])], 29_970, max_batch=2)
        in_blocks = model.sincnet.first_stage_of_chunks(audio, starts, 29_970, block=900)
        assert in_blocks.shape == (5, 80, 990)  # ((29_970 - 251) // 10 + 1) // 3
        torch.testing.assert_close(in_blocks, model.sincnet.first_stage_of_chunks(audio, starts, 29_970),
                                   atol=1e-5, rtol=1e-5)  # blocks: the same maths, other rounding
    for name in ("lstm", "linear", "log_probs"):
        torch.testing.assert_close(getattr(shared, name), getattr(alone, name), atol=1e-4, rtol=1e-4)
    off_grid = model.layers_of_chunks([(audio, torch.tensor([15, 0, 3_007]))], 29_970)  # 15 and 3_007 run alone
    with torch.no_grad():
        alone = model.layers(torch.stack([audio[s:s + 29_970] for s in (15, 0, 3_007)]))
    torch.testing.assert_close(off_grid.linear, alone.linear, atol=1e-4, rtol=1e-4)


def test_pyannet_refuses_other_files(tmp_path: Path) -> None:
    (tmp_path / "garbage.bin").write_bytes(b"not a checkpoint")
    with pytest.raises(InputFileError, match="not a readable pyannote.audio checkpoint"):
        read_pyannote_checkpoint(tmp_path / "garbage.bin")
    torch.save({"state_dict": {"nope": torch.zeros(1)}, "hyper_parameters": {}}, tmp_path / "other.bin")
    with pytest.raises(InputFileError, match="not a PyanNet checkpoint"):
        load_pyannet(tmp_path / "other.bin")


def test_campplus_strict_save_load_and_refusals(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = CAMPPlus(TINY_CAMPPLUS).eval()
    fbank = torch.randn(3, 150, 80)
    torch.save({k: v.half() if v.is_floating_point() else v for k, v in model.state_dict().items()}, tmp_path / "t.pt")
    again = load_campplus(tmp_path / "t.pt", TINY_CAMPPLUS)
    with torch.no_grad():
        assert model(fbank).shape == (3, 16)
        cosine = torch.nn.functional.cosine_similarity(model(fbank), again(fbank))
    assert float(cosine.min()) > 0.99  # float16 storage, float32 compute
    with pytest.raises(InputFileError, match="not a CAM\\+\\+ state dict of this size"):
        load_campplus(tmp_path / "t.pt")  # the full-size architecture


def test_campplus_fused_for_inference_gives_the_same_embeddings_and_the_cam_mask_is_per_frame() -> None:
    torch.manual_seed(0)
    model = CAMPPlus(TINY_CAMPPLUS)
    for module in model.modules():  # BatchNorms that are not the identity, so folding them matters
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    model.eval()
    fused = fused_for_inference(model)
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    assert sum(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in fused.modules()) < len(norms)
    fbank = torch.randn(3, 230, 80)  # three 100-frame mask segments after the stride-2 TDNN (115 frames)
    with torch.no_grad():
        assert float(torch.nn.functional.cosine_similarity(model(fbank), fused(fbank)).min()) > 0.99999
        # the mask's MLP runs once per 100-frame segment: the same as running it on every frame's context
        layer = model.xvector.block1.tdnnd1.cam_layer
        x = torch.randn(2, layer.linear1.in_channels, 230)
        frame_means = torch.cat([x[..., i:i + 100].mean(-1, keepdim=True).expand(-1, -1, min(100, 230 - i))
                                 for i in range(0, 230, 100)], -1)
        per_frame = torch.sigmoid(layer.linear2(layer.relu(layer.linear1(x.mean(-1, keepdim=True) + frame_means))))
        torch.testing.assert_close(layer(x), layer.linear_local(x) * per_frame)
    assert all(not p.requires_grad for p in fused.parameters())
    assert sum(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in model.modules()) == len(norms)  # a copy


def test_kaldi_fbank_frames() -> None:
    assert kaldi_fbank(np.zeros(399, np.float32)).shape == (0, 80)
    x = np.random.default_rng(0).standard_normal(16_000).astype(np.float32) * 0.1
    assert kaldi_fbank(x).shape == (1 + (16_000 - 400) // 160, 80)
    # fed in blocks (the last one short, none a multiple of the hop): the very same frames
    np.testing.assert_array_equal(kaldi_fbank(x, block_samples=3_001), kaldi_fbank(x, block_samples=len(x)))


def test_span_fbanks_from_the_spans_own_samples_equal_the_whole_audios() -> None:
    x = np.random.default_rng(1).standard_normal(5 * 16_000).astype(np.float32) * 0.1
    assert n_fbank_frames(len(x)) == len(kaldi_fbank(x)) and n_fbank_frames(399) == 0
    first, count = span_frames(np.array([[0.0, 0.8], [1.234, 2.0], [4.5, 5.0], [4.99, 5.0]]), n_fbank_frames(len(x)))
    few = span_fbanks(x, first, count)  # 4 spans of 5 s: computed span by span
    whole = span_fbanks(x, np.repeat(first, 10), np.repeat(count, 10))  # more frames than the audio: at once
    for i, frames in enumerate(few):
        assert frames.shape == (count[i], 80)
        np.testing.assert_array_equal(frames, whole[10 * i])


# --- the shipped weights ----------------------------------------------------------------------


def test_the_weights_ship_with_their_licences() -> None:
    for name in (SEGMENTATION_3, CAMPPLUS_ZH_EN):
        path = shipped_weights(name)
        assert path.is_file() and path.stat().st_size < 16 * 2**20
        licence = (path.parent / "LICENSE").read_text(encoding="utf-8")
        assert ("MIT License" in licence) if name == SEGMENTATION_3 else ("Apache License" in licence)


def test_segmentation_3_finds_the_sample_speech_and_two_local_speakers() -> None:
    model = load_pyannet(shipped_weights(SEGMENTATION_3))
    assert len(model.state_dict()) == 54  # every tensor of the checkpoint, strictly matched
    audio = torch.from_numpy(load_audio(SAMPLE.audio)[5 * 16_000:15 * 16_000])
    with torch.inference_mode():
        active = powerset_to_speakers(model(audio[None]))[0] > 0.5  # [589, 3]
    times = model.frame_centres_s(active.shape[0]).numpy() + 5.0
    reference = read_rttm(SAMPLE.rttm)["sample"]
    speech = np.array([any(t.start <= x < t.end for t in reference) for x in times])
    assert np.mean(active.any(-1).numpy() == speech) > 0.9
    seconds_per_speaker = active.float().sum(0) * model.frame_step / 16_000
    assert int((seconds_per_speaker > 1.0).sum()) >= 2


def test_campplus_tells_the_sample_speakers_apart() -> None:
    embedder = EMBEDDERS.build("campplus")
    turns = [t for t in read_rttm(SAMPLE.rttm)["sample"] if t.duration > 1.0]
    emb = embedder.embed_spans(load_audio(SAMPLE.audio), np.array([[t.start, t.end] for t in turns]),
                               [t.speaker for t in turns])
    assert emb.shape == (len(turns), 192) and np.allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    cosine = emb @ emb.T
    pairs = [(i, j) for i in range(len(turns)) for j in range(i + 1, len(turns))]
    same = [cosine[i, j] for i, j in pairs if turns[i].speaker == turns[j].speaker]
    other = [cosine[i, j] for i, j in pairs if turns[i].speaker != turns[j].speaker]
    assert np.mean(same) > np.mean(other) + 0.2


def test_campplus_spans_batched_by_frames_equal_one_at_a_time() -> None:
    # 20 spans of 1.6 s go through in batches of `batch_size_for` (12 + 8); each alone gives the same
    embedder = EMBEDDERS.build("campplus")
    audio = load_audio(SAMPLE.audio)
    spans = np.array([[s, s + 1.6] for s in np.arange(20) * 1.4])
    batched = embedder.embed_spans(audio, spans, ["a"] * len(spans))
    alone = np.concatenate([embedder.embed_spans(audio, spans[i:i + 1], ["a"]) for i in (0, 11, 12, 19)])
    np.testing.assert_allclose(batched[[0, 11, 12, 19]], alone, atol=1e-5)


@pytest.mark.parametrize("output, dim", [("lstm", 256), ("linear", 128), ("logprobs", 7)])
def test_pyannote_seg_features_cover_the_window_on_the_frame_grid(output: str, dim: int) -> None:
    extractor = FEATURES.build("pyannote-seg", output=output)
    assert extractor.dim == dim and extractor.context_s == 3.0
    info = audio_info(SAMPLE.audio)
    start, duration = extractor.input_span(1.0, 4.0)
    assert (start, duration) == (-4.0, 10.0)
    waves, valid = read_window(info, start, duration)
    feats, mask = extractor(torch.from_numpy(waves)[None], torch.from_numpy(valid)[None])
    assert feats.shape == (1, 200, dim) and int(mask.sum()) == 150  # the window's first 1 s is before the file
    assert float(feats[0, :50].abs().max()) == 0.0 and float(feats[0, 50:].abs().max()) > 0.0
    with_fbank = FEATURES.build("pyannote-seg", output=output, with_fbank=True)
    assert with_fbank.dim == dim + 80


def test_pyannote_seg_runs_in_prepare_and_refine(tmp_path: Path) -> None:
    from diarefine.data import PrepareConfig, prepare_cache
    from diarefine.data.corpus import Recording
    from diarefine.data.dataset import WindowDataset

    rec = Recording("sample", SAMPLE.audio, tuple(read_rttm(SAMPLE.rttm)["sample"]))
    config = PrepareConfig(features={"name": "pyannote-seg", "output": "logprobs"},
                           embeddings={"name": "campplus"}, draws_per_change=1)
    path, n = prepare_cache([rec], tmp_path / "seg.h5", config)
    data = WindowDataset(path)
    assert n > 0 and data.feature_dim == 7 and data.embedding_dim == 192
