"""Every registered model variant: shapes and ranges, loss and gradients, save / load, learning
(an overfit check on a few windows), one Lightning step, configs; parametrized over the registry."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from fixtures import SYNTH_EMBEDDING_DIM, SYNTH_FEATURE_DIM, synthetic_cache

from diarefine.data import WindowDataset, collate_windows
from diarefine.errors import ConfigError, InputFileError, UnknownNameError
from diarefine.models import MODELS, load_checkpoint, save_checkpoint
from diarefine.models.contrastive import ContrastivePositionScorer
from diarefine.models.diffusion import cosine_alpha_bar, ddim_steps

#: Small settings per variant so CPU tests stay quick; every registered variant must have one.
TINY = {
    "mlp": {"hidden": [32, 16], "dropout": 0.0},
    "transformer": {"d_model": 32, "n_layers": 2, "n_heads": 2, "ff_dim": 64, "dropout": 0.0},
    "diffusion": {"channels": [16, 16, 24, 24], "decoder_channels": 16, "cond_dim": 32, "n_sample_steps": 4,
                  "n_samples": 2},
    "contrastive": {"channels": 24, "cond_dim": 32, "dilations": [1, 2, 4, 8], "dropout": 0.0},
}
#: Default sizes at D = 768, E = 256 (the plan's parameter counts; each default within 15%).
PLANNED_PARAMETERS = {"mlp": 822_000, "transformer": 1_400_000, "diffusion": 1_600_000, "contrastive": 361_000}
VARIANTS = [name for name in MODELS.names() if MODELS.get(name).trainable]  # learned variants


def tiny(name: str, **overrides) -> torch.nn.Module:
    return MODELS.build(name, feature_dim=SYNTH_FEATURE_DIM, embedding_dim=SYNTH_EMBEDDING_DIM,
                       **{**TINY[name], **overrides})


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return synthetic_cache(tmp_path_factory.mktemp("models") / "synthetic.h5")


@pytest.fixture(scope="module")
def batch(cache: Path) -> dict[str, torch.Tensor]:
    return collate_windows(WindowDataset(cache).__getitems__(range(16)))


def test_every_variant_has_test_settings_and_a_planned_size() -> None:
    assert set(VARIANTS) == set(TINY) == set(PLANNED_PARAMETERS) == {"mlp", "transformer", "diffusion", "contrastive"}


@pytest.mark.parametrize("name", VARIANTS)
def test_default_size_is_within_15_percent_of_the_plan(name: str) -> None:
    n = MODELS.build(name, feature_dim=768, embedding_dim=256).n_parameters()
    assert abs(n - PLANNED_PARAMETERS[name]) <= 0.15 * PLANNED_PARAMETERS[name], n


@pytest.mark.parametrize("name", VARIANTS)
def test_forward_gives_bounded_offsets_and_confidences(name: str, batch) -> None:
    model = tiny(name).eval()
    with torch.no_grad():
        offset_s, confidence = model(batch)
    assert offset_s.shape == confidence.shape == (16,)
    assert torch.isfinite(offset_s).all() and torch.isfinite(confidence).all()
    assert (offset_s.abs() <= 2.0).all()
    assert ((confidence >= 0) & (confidence <= 1)).all()


@pytest.mark.parametrize("name", VARIANTS)
def test_loss_is_finite_and_reaches_every_parameter(name: str, batch) -> None:
    torch.manual_seed(0)
    model = tiny(name).train()
    losses = model.losses(batch)
    assert set(losses) >= {"loss"} and all(torch.isfinite(v) for v in losses.values())
    losses["loss"].backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert not missing, f"parameters without gradient: {missing}"
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())


@pytest.mark.parametrize("name", VARIANTS)
def test_save_then_load_gives_identical_outputs(name: str, batch, tmp_path: Path) -> None:
    model = tiny(name).eval()
    cache_config = {"window": {"window_s": 4.0}, "features": {"name": "synthetic"}, "embeddings": {"name": "x"}}
    path = save_checkpoint(tmp_path / "m.pt", model, cache_config, training_metrics={"val/mae_s": 0.1})
    loaded = load_checkpoint(path)
    assert loaded.model.name == name and loaded.features == {"name": "synthetic"}
    assert loaded.training_metrics == {"val/mae_s": 0.1}
    with torch.no_grad():
        for a, b in zip(model(batch), loaded.model(batch)):
            assert torch.equal(a, b)
    assert not list(tmp_path.glob("*.tmp*")) and [p.name for p in tmp_path.iterdir()] == ["m.pt"]


@pytest.mark.parametrize("name", VARIANTS)
def test_overfits_a_few_windows(name: str, cache: Path) -> None:
    """Memorisation: 8 change windows, plain AdamW; the error must fall far below not refining."""
    torch.manual_seed(0)
    data = WindowDataset(cache)
    rows = [i for i in range(len(data)) if data[i]["has_change"]][:8]
    batch = collate_windows(data.__getitems__(rows))
    model = tiny(name)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.0)
    steps = 400 if name == "diffusion" else 200
    for _ in range(steps):
        optimizer.zero_grad()
        model.loss(batch).backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        offset_s, _ = model(batch)
    mae = (offset_s - batch["offset_s"]).abs().mean().item()
    baseline = batch["offset_s"].abs().mean().item()
    assert mae < 0.35 * baseline, (mae, baseline)


def test_diffusion_sampling_is_deterministic_and_starts_at_the_initial_boundary(batch) -> None:
    model = tiny("diffusion").eval()
    with torch.no_grad():
        a, _ = model.sample(batch, n_steps=5, n_samples=3)
        b, _ = model.sample(batch, n_steps=5, n_samples=3)
    assert a.shape == (16, 3) and torch.equal(a, b)
    assert ddim_steps(1000, 5) == [999, 749, 500, 250, 0] and ddim_steps(10, 50) == list(range(9, -1, -1))
    abar = cosine_alpha_bar(1000)
    assert abar[0] > 0.999 and abar[-1] < 1e-3 and (abar[1:] < abar[:-1]).all()


def test_contrastive_reads_a_sub_frame_soft_argmax() -> None:
    model = ContrastivePositionScorer.from_config({"feature_dim": 4, "embedding_dim": 4})
    logits = torch.full((1, 201), -30.0)
    logits[0, 100], logits[0, 101] = 5.0, 5.0  # equal mass on frames 100 and 101 -> between their centres
    offset_s, confidence = model.read_out(logits)
    assert offset_s.item() == pytest.approx(0.02, abs=1e-6)  # centres 0.01 and 0.03 s
    assert confidence.item() == pytest.approx(1.0, abs=1e-6)
    logits[0, -1] = 20.0  # the "no change" slot dominates -> no confidence
    assert model.read_out(logits)[1].item() < 1e-5
    assert model.target_frame(torch.tensor([-2.0, 0.0, 0.015, 1.999])).tolist() == [0, 100, 100, 199]


def test_build_model_refuses_unknown_variants_and_settings() -> None:
    with pytest.raises(UnknownNameError, match="choose one of: bic, contrastive, diffusion, mlp, overlap-match, pause-match, segmentation-snap, silence-snap, similarity, transformer"):
        MODELS.build("lstm")
    with pytest.raises(ConfigError, match="unknown key 'd_modle'"):
        MODELS.build("transformer", d_modle=64)
    with pytest.raises(ConfigError, match="multiple of patch_frames"):
        MODELS.build("transformer", patch_frames=7)


def test_inference_settings_can_be_overridden_at_load(tmp_path: Path, batch) -> None:
    model = tiny("diffusion").eval()
    path = save_checkpoint(tmp_path / "d.pt", model, {"window": {}, "features": {}, "embeddings": {}})
    loaded = load_checkpoint(path, overrides={"n_sample_steps": 2, "radius_frames": 3}, ignore_unknown=True)
    assert loaded.model.config.n_sample_steps == 2 and loaded.model.config.n_samples == model.config.n_samples
    with pytest.raises(InputFileError, match="unknown key 'radius_frames'"):
        load_checkpoint(path, overrides={"radius_frames": 3})


def test_load_checkpoint_names_the_file_on_bad_input(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="no such checkpoint"):
        load_checkpoint(tmp_path / "missing.pt")
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(InputFileError, match="garbage.pt: not a readable diarefine checkpoint"):
        load_checkpoint(garbage)
    torch.save({"state_dict": {}}, tmp_path / "other.pt")
    with pytest.raises(InputFileError, match="not a diarefine checkpoint"):
        load_checkpoint(tmp_path / "other.pt")


def test_masked_frames_do_not_change_the_prediction(batch) -> None:
    """Padding outside the file is masked: whatever it holds, outputs stay the same."""
    padded = {k: v.clone() for k, v in batch.items()}
    rows = ~padded["mask"]
    padded["features"][rows] = 123.0
    for name in VARIANTS:
        model = tiny(name).eval()
        with torch.no_grad():
            a, b = model(batch), model(padded)
        assert torch.allclose(a[0], b[0], atol=1e-5) and torch.allclose(a[1], b[1], atol=1e-5), name


def test_registry_build_takes_a_name_a_table_and_overrides() -> None:
    a = MODELS.build({"name": "mlp", "feature_dim": 4, "embedding_dim": 4, "hidden": [8]})
    b = MODELS.build("mlp", feature_dim=4, embedding_dim=4, hidden=[8])
    c = MODELS.build({"name": "mlp", "feature_dim": 99, "embedding_dim": 4, "hidden": [8]}, feature_dim=4)
    assert a.config == b.config == c.config and a.config.feature_dim == 4
    with pytest.raises(ConfigError, match="model.mlp: unknown key 'hiden'"):
        MODELS.build("mlp", hiden=[8])


def test_diffusion_checkpoints_from_before_the_denoiser_split_still_load(batch) -> None:
    model = tiny("diffusion").eval()
    flat = {k.removeprefix("denoiser."): v for k, v in model.state_dict().items()}  # the 0.1 layout
    assert not any(k.startswith("denoiser.") for k in flat)
    again = tiny("diffusion").eval()
    again.load_state_dict(flat)
    assert all(torch.equal(x, y) for x, y in zip(model(batch), again(batch)))
