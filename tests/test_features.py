"""Feature extractors: fbank against a direct computation, frame counts and masks, tiny WavLM."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from diarefine.errors import ConfigError, InputFileError, UnknownNameError
from diarefine.features import FEATURES
from diarefine.features.fbank import mel_filterbank


def direct_log_mel(x: np.ndarray, filters: np.ndarray, win: int = 400, hop: int = 320) -> np.ndarray:
    """Frame by frame in numpy: frame t centred on sample t*hop + hop/2, zero padding, DC removed, Hann."""
    window = np.hanning(win)
    rows = []
    for t in range(len(x) // hop):
        start = t * hop + hop // 2 - win // 2
        frame = np.array([x[i] if 0 <= i < len(x) else 0.0 for i in range(start, start + win)])
        frame = (frame - frame.mean()) * window
        power = np.abs(np.fft.rfft(frame, 512)) ** 2
        rows.append(np.log(np.maximum(power @ filters, 1e-10)))
    return np.array(rows)


def test_fbank_gives_200_frames_of_80_bins_equal_to_a_direct_computation() -> None:
    x = np.random.default_rng(0).standard_normal(64_000).astype(np.float32) * 0.1
    fbank = FEATURES.build({"name": "fbank", "mean_norm": False})
    feats, mask = fbank(torch.from_numpy(x)[None])
    assert feats.shape == (1, 200, 80) and mask.shape == (1, 200) and bool(mask.all())
    expected = direct_log_mel(x.astype(np.float64), mel_filterbank(512, 80, 20.0, 7600.0).double().numpy())
    np.testing.assert_allclose(feats[0].numpy(), expected, atol=2e-3)


def test_mel_filterbank_matches_librosa_htk() -> None:
    librosa = pytest.importorskip("librosa")
    ours = mel_filterbank(512, 80, 20.0, 7600.0).numpy()
    theirs = librosa.filters.mel(sr=16_000, n_fft=512, n_mels=80, fmin=20.0, fmax=7600.0, htk=True, norm=None).T
    np.testing.assert_allclose(ours, theirs, atol=1e-4)


def test_fbank_mask_follows_the_valid_samples_and_mean_norm_ignores_padding() -> None:
    x = torch.randn(2, 64_000) * 0.1
    valid = torch.ones_like(x, dtype=torch.bool)
    valid[0, :16_000] = False  # the first second lies before the file start
    x[0, :16_000] = 0.0
    feats, mask = FEATURES.build("fbank")(x, valid)
    assert mask[0].sum() == 150 and not mask[0, :50].any() and mask[1].all()
    assert torch.all(feats[0, :50] == 0)
    assert feats[0, 50:].mean(0).abs().max() < 1e-4  # mean over valid frames only


def test_unknown_extractor_and_option_typos_are_refused() -> None:
    with pytest.raises(UnknownNameError, match="fbank, pyannote-seg, wavlm"):
        FEATURES.build("mfcc")
    with pytest.raises(ConfigError, match="unknown key 'n_mel'"):
        FEATURES.build({"name": "fbank", "n_mel": 40})
    assert set(FEATURES) == {"fbank", "pyannote-seg", "wavlm"}


@pytest.fixture(scope="module")
def tiny_wavlm(tmp_path_factory) -> Path:
    transformers = pytest.importorskip("transformers")
    config = transformers.WavLMConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                      intermediate_size=64, conv_dim=(16,) * 7, num_conv_pos_embeddings=16,
                                      num_conv_pos_embedding_groups=4, num_buckets=32)
    path = tmp_path_factory.mktemp("tiny-wavlm")
    torch.manual_seed(0)
    transformers.WavLMModel(config).save_pretrained(path)
    return path


@pytest.mark.parametrize("mix", ["layer", "average", "learned"])
def test_tiny_wavlm_gives_200_frames_from_its_199(tiny_wavlm: Path, mix: str, caplog) -> None:
    extractor = FEATURES.build({"name": "wavlm", "model_dir": str(tiny_wavlm), "mix": mix, "layer": 1})
    with caplog.at_level("INFO", logger="diarefine"):
        feats, mask = extractor(torch.randn(2, 64_000) * 0.1)
    assert feats.shape == (2, 200, 32) and mask.shape == (2, 200)
    assert "gives 199 frames" in caplog.text
    assert torch.equal(feats[:, 199], feats[:, 198])  # the padded frame repeats the last one
    assert extractor.cacheable == (mix != "learned")
    if mix == "learned":
        feats.sum().backward()
        assert extractor.layer_logits.grad is not None


def test_wavlm_layer_choice_changes_the_output(tiny_wavlm: Path) -> None:
    x = torch.randn(1, 64_000) * 0.1
    a = FEATURES.build({"name": "wavlm", "model_dir": str(tiny_wavlm), "layer": 1})(x)[0]
    b = FEATURES.build({"name": "wavlm", "model_dir": str(tiny_wavlm), "layer": 2})(x)[0]
    assert not torch.allclose(a, b)


def test_wavlm_without_weights_names_the_folder(tmp_path: Path) -> None:
    pytest.importorskip("transformers")
    with pytest.raises(InputFileError, match="WavLM model folder not found"):
        FEATURES.build({"name": "wavlm", "model_dir": str(tmp_path / "nowhere")})
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(InputFileError, match=f"{tmp_path}.*no WavLM weights"):
        FEATURES.build({"name": "wavlm", "model_dir": str(tmp_path)})
