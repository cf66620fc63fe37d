"""Audio loading, mixing, resampling and window cropping on files the tests write."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from diarefine.audio import audio_info, crop_centered, load_audio, read_window, resample
from diarefine.errors import InputFileError


def tone(freq_hz: float, seconds: float, rate: int) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.5 * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)


def dominant_frequency(x: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(x.size)))
    return float(np.fft.rfftfreq(x.size, 1 / rate)[np.argmax(spectrum)])


@pytest.mark.parametrize("rate", [8_000, 22_050, 44_100, 48_000])
def test_resampling_keeps_a_sine_at_its_frequency(rate: int) -> None:
    out = resample(tone(440.0, 2.0, rate), rate)
    assert out.size == 32_000
    assert dominant_frequency(out, 16_000) == pytest.approx(440.0, abs=1.0)


def test_resampling_removes_what_would_alias() -> None:
    # 7 kHz survives 48 -> 16 kHz; 12 kHz is above the new Nyquist (8 kHz) and must be filtered,
    # not folded to 4 kHz.
    out = resample(tone(7_000, 1.0, 48_000) + tone(12_000, 1.0, 48_000), 48_000)
    spectrum = np.abs(np.fft.rfft(out))
    freqs = np.fft.rfftfreq(out.size, 1 / 16_000)
    assert spectrum[np.argmin(np.abs(freqs - 4_000))] < 0.01 * spectrum[np.argmin(np.abs(freqs - 7_000))]


def test_stereo_44k_file_is_mixed_and_resampled_with_a_log_line(tmp_path: Path, caplog) -> None:
    left, right = tone(300, 1.5, 44_100), tone(300, 1.5, 44_100)
    path = tmp_path / "stereo.flac"
    sf.write(path, np.stack([left, 0.5 * right], axis=1), 44_100)
    with caplog.at_level(logging.INFO, logger="diarefine"):
        audio = load_audio(path)
    assert audio.shape == (24_000,)
    assert dominant_frequency(audio, 16_000) == pytest.approx(300.0, abs=1.0)
    assert np.max(np.abs(audio)) == pytest.approx(0.375, abs=0.01)  # mean of 0.5 and 0.25 amplitude
    assert "mixing 2 channels" in caplog.text and "44100 Hz -> 16000 Hz" in caplog.text


@pytest.mark.parametrize("rate", [16_000, 44_100, 8_000])
def test_windows_match_the_whole_file_load_and_pad_at_the_edges(tmp_path: Path, rate: int) -> None:
    rng = np.random.default_rng(0)
    path = tmp_path / f"noise{rate}.wav"
    sf.write(path, (0.1 * rng.standard_normal(int(3.0 * rate))).astype(np.float32), rate, subtype="FLOAT")
    whole = load_audio(path)
    info = audio_info(path)
    for center in (1.5, 0.5, 2.75, -3.0, 10.0):
        samples, valid = crop_centered(info, center, duration_s=1.0)
        assert samples.shape == valid.shape == (16_000,)
        first = int(round((center - 0.5) * 16_000))
        idx = np.arange(first, first + 16_000)
        inside = (idx >= 0) & (idx < whole.size)
        assert np.array_equal(valid, inside)
        assert np.all(samples[~valid] == 0)
        np.testing.assert_allclose(samples[valid], whole[idx[inside]], atol=1e-4)


def test_read_window_reads_only_the_needed_frames(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "long.wav"
    sf.write(path, np.zeros(16_000 * 60, dtype=np.float32), 16_000)
    read_sizes = []
    original = sf.SoundFile.read

    def spy(self, frames=-1, *args, **kwargs):
        read_sizes.append(frames)
        return original(self, frames, *args, **kwargs)

    monkeypatch.setattr(sf.SoundFile, "read", spy)
    read_window(path, 30.0, 4.0)
    assert read_sizes and max(read_sizes) <= 4 * 16_000 + 16


def test_missing_unreadable_and_empty_audio_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="audio file not found"):
        audio_info(tmp_path / "nope.wav")
    garbage = tmp_path / "garbage.wav"
    garbage.write_bytes(b"this is not audio at all" * 10)
    with pytest.raises(InputFileError, match=r"garbage.wav: cannot be read as audio"):
        load_audio(garbage)
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros(0, dtype=np.float32), 16_000)
    with pytest.raises(InputFileError, match="holds no samples"):
        read_window(empty, 0.0, 1.0)
