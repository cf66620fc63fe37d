"""Fit the confidence mapping of the classical refiners on dev windows (not a test).

    python benchmarks/calibrate_baselines.py --cache data/dev.h5

For each classical refiner, its raw score (BIC gain, similarity contrast, silence length) on
every window, and a logistic regression of "the window holds a change and the prediction is
within 200 ms of it" on that score: confidence = sigmoid((score - bias) / scale). Prints the
fitted ``confidence_bias`` / ``confidence_scale`` (the defaults in each refiner's Config).
"""

from __future__ import annotations

import argparse

import numpy as np
from rich.console import Console
from rich.table import Table
from scipy.optimize import minimize

from diarefine.data import WindowDataset
from diarefine.embeddings import EMBEDDERS
from diarefine.evaluation import WindowAudio, predict
from diarefine.models import classical_checkpoint
from diarefine.refine.resolve import CLASSICAL_REFINERS

TOLERANCE_S = 0.2


def fit_sigmoid(score: np.ndarray, target: np.ndarray) -> tuple[float, float]:
    """(bias, scale) of the logistic regression target ~ sigmoid((score - bias) / scale)."""
    mu, sd = float(score.mean()), float(score.std() or 1.0)
    z = (score - mu) / sd

    def loss(p):
        logits = p[0] * z + p[1]
        return float(np.mean(np.logaddexp(0, logits) - target * logits))

    a, b = minimize(loss, np.array([1.0, 0.0]), method="Nelder-Mead").x
    return mu - b * sd / a, sd / a


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", required=True)
    parser.add_argument("--audio-dir")
    parser.add_argument("--refiners", nargs="+", choices=CLASSICAL_REFINERS, default=list(CLASSICAL_REFINERS))
    args = parser.parse_args()
    dataset = WindowDataset(args.cache, in_memory=True)
    audio = WindowAudio(dataset, args.audio_dir)
    embedder = EMBEDDERS.build(dataset.config["embeddings"])
    true, change = dataset.column("offset_s"), dataset.column("has_change").astype(bool)
    table = Table("refiner", "windows with a score", "hit rate", "confidence_bias", "confidence_scale",
                  title=f"classical refiner calibration on {args.cache} (hit: change within {TOLERANCE_S * 1000:.0f} ms)")
    for name in args.refiners:
        model = classical_checkpoint(name, dataset.config, dataset.feature_dim, dataset.embedding_dim).model
        pred = predict(model, dataset, 64, "cpu", audio, embedder, outputs=model.predict_with_score)
        hit = change & (np.abs(np.nan_to_num(true) - pred.offset_s) <= TOLERANCE_S)
        finite = np.isfinite(pred.confidence)
        bias, scale = fit_sigmoid(pred.confidence[finite], hit[finite].astype(float))
        table.add_row(name, f"{finite.sum()} / {len(finite)}", f"{hit[finite].mean():.3f}", f"{bias:.4g}", f"{scale:.4g}")
    Console().print(table)


if __name__ == "__main__":
    main()
