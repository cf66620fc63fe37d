"""Batches side by side on the cores (`networks.parallel`): order, progress, torch's thread count put
back, errors passed on, and the same bits whatever the number of cores."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from diarefine.audio import load_audio
from diarefine.networks.campplus import batch_size_for, kaldi_fbank
from diarefine.networks.parallel import map_batches, spread_batch_size, torch_threads
from diarefine.samples import bundled_sample
from diarefine.segmentation_diarizer import SegmentationDiarizeConfig, embed_pieces, segment
from diarefine.units import SAMPLE_RATE


def test_results_come_in_order_with_progress_and_threads_put_back() -> None:
    before, seen, done = torch.get_num_threads(), set(), []

    def work(x: int) -> int:
        seen.add((threading.current_thread().name, torch.get_num_threads()))
        return x * x

    assert map_batches(work, range(7), workers=3, done=done.append) == [x * x for x in range(7)]
    assert done == list(range(1, 8))
    assert {threads for _, threads in seen} == {1}  # one torch thread per batch
    assert all(name.startswith("diarefine-batch") for name, _ in seen)
    assert torch.get_num_threads() == before
    assert map_batches(work, [], workers=2) == []


def test_workers_run_under_the_callers_grad_inference_and_autocast_modes() -> None:
    def modes(_: int) -> tuple[bool, bool, bool]:
        return torch.is_grad_enabled(), torch.is_inference_mode_enabled(), torch.is_autocast_enabled("cpu")

    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
        assert set(map_batches(modes, range(4), workers=2)) == {(False, True, True)}
    assert set(map_batches(modes, range(4), workers=2)) == {(True, False, False)}


def test_an_error_in_a_batch_is_raised_and_threads_are_put_back() -> None:
    before = torch.get_num_threads()

    def fail(x: int) -> int:
        if x == 2:
            raise ValueError("batch 2 is bad")
        return x

    with pytest.raises(ValueError, match="batch 2 is bad"):
        map_batches(fail, range(4), workers=2)
    assert torch.get_num_threads() == before
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


def test_a_network_gives_the_same_bits_with_any_number_of_workers() -> None:
    torch.manual_seed(0)
    network = torch.nn.Sequential(torch.nn.Conv1d(8, 32, 5), torch.nn.ReLU(), torch.nn.Conv1d(32, 16, 3)).eval()
    batches = [torch.randn(4, 8, 200) for _ in range(5)]

    @torch.inference_mode()
    def run(batch: torch.Tensor) -> np.ndarray:
        return network(batch).numpy()

    one, two = map_batches(run, batches, workers=1), map_batches(run, batches, workers=2)
    assert all(np.array_equal(a, b) for a, b in zip(one, two))


def test_the_diarizers_networks_give_the_same_bits_on_one_or_two_cores() -> None:
    """Also with other batches: one core takes the 5 chunks in one batch and the 16 pieces in 13 + 3, two
    cores spread them as 3 + 2 and 8 + 8 (`spread_batch_size`)."""
    audio = load_audio(bundled_sample().audio)[:14 * SAMPLE_RATE]
    config = SegmentationDiarizeConfig(step_s=1.0, batch_size=16)  # 5 chunks
    fbank = kaldi_fbank(audio)
    pieces = [fbank[i:i + 150] - fbank[i:i + 150].mean(axis=0) for i in range(0, 1200, 75)]
    assert [spread_batch_size(5, 16, workers) for workers in (1, 2)] == [5, 3]
    assert [spread_batch_size(16, batch_size_for(150, 16), workers) for workers in (1, 2)] == [13, 8]
    outputs = {}
    for threads in (1, 2):
        with torch_threads(threads):
            outputs[threads] = (segment(audio, config).activity, embed_pieces(pieces, config))
    assert np.array_equal(outputs[1][0], outputs[2][0]) and np.array_equal(outputs[1][1], outputs[2][1])
