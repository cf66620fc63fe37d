"""Training-batch augmentation: frequency masks zero whole bands, embedding jitter keeps the
norm, labels are untouched (training with it: test_training.py)."""

from __future__ import annotations

import torch

from diarefine.training.augment import AugmentConfig, augment_batch, frequency_mask, jitter_embeddings


def _batch(b: int = 16, t: int = 20, d: int = 40, e: int = 32) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    emb = torch.nn.functional.normalize(torch.randn(b, e, generator=g), dim=-1)
    return {"features": torch.randn(b, t, d, generator=g) + 3.0, "mask": torch.ones(b, t, dtype=torch.bool),
            "left_emb": emb, "right_emb": emb.flip(0), "offset_s": torch.linspace(-1, 1, b),
            "has_change": torch.arange(b) % 3 > 0}


def test_frequency_mask_zeroes_contiguous_bands_over_all_frames() -> None:
    features = _batch()["features"]
    masked = frequency_mask(features, n_masks=1, max_width=6, generator=torch.Generator().manual_seed(1))
    zero_dims = (masked == 0).all(dim=1)  # [B, D]: bands zeroed in every frame
    assert ((masked == features) | (masked == 0)).all()  # nothing else changes
    assert ((masked == 0) == zero_dims.unsqueeze(1)).all()  # a band is zero in every frame or none
    widths = zero_dims.sum(-1)
    assert widths.max() <= 6 and widths.sum() > 0
    for row in zero_dims:  # one contiguous band per window
        idx = torch.nonzero(row).flatten()
        assert len(idx) == 0 or idx[-1] - idx[0] + 1 == len(idx)


def test_jittered_embeddings_keep_their_norm_and_stay_close() -> None:
    emb = _batch()["left_emb"] * 3.0
    noisy = jitter_embeddings(emb, 0.3, torch.Generator().manual_seed(2))
    assert torch.allclose(noisy.norm(dim=-1), emb.norm(dim=-1), atol=1e-5)
    cosine = torch.nn.functional.cosine_similarity(noisy, emb, dim=-1)
    assert (cosine > 0.8).all() and (cosine < 0.9999).all()


def test_augment_batch_leaves_labels_and_the_input_alone() -> None:
    batch = _batch()
    before = {k: v.clone() for k, v in batch.items()}
    out = augment_batch(batch, AugmentConfig(freq_masks=2, freq_mask_width=8, embedding_noise=0.2),
                        torch.Generator().manual_seed(3))
    assert all(torch.equal(batch[k], before[k]) for k in batch)  # the input batch is not modified
    for key in ("offset_s", "has_change", "mask"):
        assert out[key] is batch[key]
    assert not torch.equal(out["features"], batch["features"]) and not torch.equal(out["left_emb"], batch["left_emb"])
    assert augment_batch(batch, AugmentConfig()) is batch  # the default does nothing
