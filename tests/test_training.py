"""Training and evaluation end to end on a tiny synthetic cache: one Lightning step per variant,
the outputs of `diarefine train`, config validation, and `diarefine evaluate`."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from fixtures import synthetic_cache, write
from test_models import TINY, VARIANTS

from diarefine.cli import main
from diarefine.errors import ConfigError, UnknownNameError
from diarefine.models import load_checkpoint
from diarefine.training import fit, load_train_config
from diarefine.training.augment import AugmentConfig
from diarefine.training.config import TrainConfig, parse_override

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


@pytest.fixture(scope="module")
def caches(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("training")
    return synthetic_cache(root / "train.h5", n=40, seed=1), synthetic_cache(root / "dev.h5", n=24, seed=2)


def _config(name: str, caches, **trainer) -> TrainConfig:
    train, dev = caches
    return load_train_config(None, [f"model.name={name}", *(f"model.{k}={v!r}".replace("'", '"')
                                                           for k, v in TINY[name].items()),
                                    f'data.train=["{train}"]', f'data.val=["{dev}"]', "data.batch_size=8",
                                    "optim.warmup_steps=2", "trainer.accelerator='cpu'", "trainer.devices=1",
                                    *(f"trainer.{k}={v}" for k, v in trainer.items())])


@pytest.mark.parametrize("name", VARIANTS)
def test_one_lightning_step_on_cpu_writes_a_loadable_checkpoint(name: str, caches, tmp_path: Path) -> None:
    config = _config(name, caches, max_epochs=1, limit_train_batches=1)
    result = fit(config, tmp_path / "run", progress=False)
    assert result.checkpoint.is_file() and (tmp_path / "run" / "config.toml").is_file()
    assert list((tmp_path / "run" / "tensorboard").rglob("events.out.tfevents.*"))
    assert {"val/mae_s", "val/acc@100ms", "val/rmse_s"} <= set(result.best)
    ckpt = load_checkpoint(result.checkpoint)
    assert ckpt.model.name == name and ckpt.features["name"] == "synthetic"
    assert ckpt.training_config["model"]["feature_dim"] == 12  # filled in from the cache
    # The resolved config (model sizes filled in) reads back as the config that was trained.
    resolved = load_train_config(tmp_path / "run" / "config.toml")
    assert resolved.model == ckpt.training_config["model"] and resolved.model["name"] == name
    assert (resolved.data, resolved.optim, resolved.trainer, resolved.seed) == (config.data, config.optim,
                                                                                config.trainer, config.seed)


def test_shipped_configs_load_and_match_the_plan() -> None:
    names = sorted(p.stem for p in CONFIGS.glob("*.toml"))
    assert names == sorted([*VARIANTS, *(f"{v}_overfit" for v in VARIANTS)])
    for path in CONFIGS.glob("*.toml"):
        config = load_train_config(path)
        assert config.model["name"] == path.stem.removesuffix("_overfit")
        if not path.stem.endswith("_overfit"):
            assert (config.data.batch_size, config.optim.lr) == (32, 5e-4)
            assert config.trainer.max_epochs == (100 if config.model["name"] == "diffusion" else 50)


def test_the_front_end_configs_load() -> None:
    """configs/seg/: the recipe on the front end learned from real conversations (prepare + train)."""
    from diarefine.config import from_dict, read_toml
    from diarefine.data import PrepareConfig

    prepare = from_dict(PrepareConfig, read_toml(CONFIGS / "seg" / "prepare.toml")["prepare"])
    assert prepare.features["name"] == "pyannote-seg" and prepare.embeddings["name"] == "campplus"
    train = load_train_config(CONFIGS / "seg" / "contrastive.toml")
    assert train.model["name"] == "contrastive" and train.data.train == ("data/seg_train.h5",)


def test_config_typos_are_refused_with_the_key(tmp_path: Path) -> None:
    bad = write(tmp_path / "bad.toml", '[model]\nname = "transformer"\n[optim]\nlrr = 1e-3\n')
    with pytest.raises(ConfigError, match=r"bad.toml.optim: unknown key 'lrr' \(valid keys: betas, ema_decay, grad_clip, lr"):
        load_train_config(bad)
    bad_model = write(tmp_path / "bad_model.toml", '[model]\nname = "transformer"\nn_layer = 2\n')
    with pytest.raises(ConfigError, match=r"\[model\]: unknown key 'n_layer'"):
        load_train_config(bad_model)
    with pytest.raises(UnknownNameError, match="unknown model variant 'lstm'"):
        load_train_config(None, ["model.name=lstm"])
    with pytest.raises(ConfigError, match="trainer.max_epochs: expected int"):
        load_train_config(None, ["trainer.max_epochs=ten"])
    assert parse_override("optim.lr=1e-3") == (["optim", "lr"], 0.001)
    assert main(["train", "--config", str(bad)]) == 2


def test_train_cli_overfit_then_evaluate(caches, tmp_path: Path, capsys) -> None:
    train, dev = caches
    sets = [f"--set=model.{k}={json.dumps(v)}" for k, v in TINY["transformer"].items()]
    out = tmp_path / "tr"
    assert main(["train", "--config", str(CONFIGS / "transformer_overfit.toml"), "--overfit", "6", "--out", str(out),
                 f"--set=data.train=[\"{train}\"]", "--set=trainer.max_epochs=3", "--set=trainer.val_every_n_epochs=1",
                 "--quiet", *sets]) == 0
    printed = capsys.readouterr().out
    assert "overfit 6" in printed and "training windows" in printed
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["overfit"] == 6 and metrics["n_train_windows"] == 6 and len(metrics["history"]) == 3

    report, plot = tmp_path / "eval.json", tmp_path / "cdf.png"
    assert main(["evaluate", "--cache", str(dev), str(out / "best.pt"), "--json", str(report), "--plot", str(plot)]) == 0
    printed = capsys.readouterr().out
    assert "no refinement" in printed and "by difficulty" in printed
    data = json.loads(report.read_text())
    rows = {m["label"]: m for m in data["models"]}
    assert set(rows) == {"no refinement", "bic", "tr"} and data["n_windows"] == 24 and data["n_change_windows"] == 18
    assert rows["no refinement"]["overall"]["no_change_moved@100ms"] == 0.0
    assert rows["tr"]["n_parameters"] > 0 and rows["tr"]["windows_per_s"] > 0
    assert set(rows["tr"]["by_difficulty"]) == {"easy", "medium", "hard"}
    assert set(rows["tr"]["threshold_sweep"]) == {"0.3", "0.5", "0.7", "0.8", "0.9"}
    assert "threshold sweep" in printed
    assert plot.stat().st_size > 1000
    # Inference settings apply to the models that have them (none here) and typos are refused.
    assert main(["evaluate", "--cache", str(dev), str(out / "best.pt"), "--model-set", "n_sample_steps=5"]) == 0
    assert main(["evaluate", "--cache", str(dev), str(out / "best.pt"), "--model-set", "n_sampels=5"]) == 2
    assert "no model variant has this setting" in capsys.readouterr().err


def test_fine_tuning_starts_from_a_checkpoint_and_checks_it(caches, tmp_path: Path) -> None:
    from dataclasses import replace

    config = _config("mlp", caches, max_epochs=1, limit_train_batches=1)
    first = fit(config, tmp_path / "a", progress=False)
    frozen = replace(config, init=str(first.checkpoint), optim=replace(config.optim, lr=0.0))
    again = fit(frozen, tmp_path / "b", progress=False)  # lr 0: the weights stay the checkpoint's
    a, b = load_checkpoint(first.checkpoint).model.state_dict(), load_checkpoint(again.checkpoint).model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert load_train_config(tmp_path / "b" / "config.toml").init == str(first.checkpoint)
    with pytest.raises(ConfigError, match="is a mlp model but \\[model\\] name = 'transformer'"):
        fit(replace(_config("transformer", caches, max_epochs=1), init=str(first.checkpoint)), tmp_path / "c",
            progress=False)
    with pytest.raises(ConfigError, match="classical refiner"):
        fit(replace(config, init="bic"), tmp_path / "d", progress=False)


def test_evaluate_refuses_a_cache_built_with_other_features(caches, tmp_path: Path, capsys) -> None:
    train, _ = caches
    config = _config("mlp", caches, max_epochs=1, limit_train_batches=1)
    result = fit(config, tmp_path / "m", progress=False)
    other = synthetic_cache(tmp_path / "other.h5", n=8, feature_name="wavlm")
    assert main(["evaluate", "--cache", str(other), str(result.checkpoint)]) == 2
    err = capsys.readouterr().err
    assert "trained on windows built otherwise" in err and "features.name: expected 'synthetic', found 'wavlm'" in err
    assert main(["evaluate", "--cache", str(tmp_path / "missing.h5")]) == 2
    assert main(["train", "--set", f'data.train=["{train}"]', "--set", "data.val=[]", "--out", str(tmp_path / "x")]) == 2
    assert "data.val: name the validation cache" in capsys.readouterr().err


def test_evaluate_takes_a_shipped_model_by_name(caches, capsys) -> None:
    train, _ = caches
    # found by its name (not "no such checkpoint file"), then refused: the synthetic cache is not its front end
    assert main(["evaluate", "--cache", str(train), "--no-classical", "contrastive-librisim"]) == 2
    err = capsys.readouterr().err
    assert "contrastive-librisim" in err and "trained on windows built otherwise" in err


def test_augment_table_is_validated_and_trains(caches, tmp_path) -> None:
    with pytest.raises(ConfigError, match="unknown key 'freq_mask'"):
        load_train_config(None, ["model.name=mlp", "augment.freq_mask=2"])
    with pytest.raises(ConfigError, match="non-negative"):
        load_train_config(None, ["model.name=mlp", "augment.embedding_noise=-0.1"])
    config = _config("contrastive", caches, max_epochs=1, limit_train_batches=2)
    config = replace(config, augment=AugmentConfig(freq_masks=2, freq_mask_width=4, embedding_noise=0.1))
    result = fit(config, tmp_path / "run", progress=False)
    assert result.checkpoint.is_file()
    assert load_train_config(tmp_path / "run" / "config.toml").augment == config.augment


def test_ema_weights_are_what_validation_and_best_pt_use(caches, tmp_path) -> None:
    with pytest.raises(ConfigError, match="ema_decay"):
        load_train_config(None, ["model.name=mlp", "optim.ema_decay=1.0"])
    config = _config("mlp", caches, max_epochs=1, limit_train_batches=4)
    config = replace(config, optim=replace(config.optim, ema_decay=0.5, warmup_steps=1))
    result = fit(config, tmp_path / "run", progress=False)
    lightning_ckpt = torch.load(next((tmp_path / "run" / "lightning").glob("best-*.ckpt")), weights_only=False)
    average = {k.removeprefix("model."): v for k, v in lightning_ckpt["state_dict"].items()}
    current = {k.removeprefix("model."): v for k, v in lightning_ckpt["current_model_state"].items()}
    exported = load_checkpoint(result.checkpoint).model.state_dict()
    assert all(torch.equal(exported[k], average[k]) for k in exported)
    assert any(not torch.equal(average[k], current[k]) for k in average)  # the average is not the last weights
