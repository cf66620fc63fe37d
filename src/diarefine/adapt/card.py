"""The model card of an adapted checkpoint: what it was adapted on and from, how, and what the held-out
windows say (Markdown, written next to the checkpoint as ``<name>.md``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..display import percent, seconds

if TYPE_CHECKING:
    from .pipeline import AdaptConfig, AdaptResult


def model_card(result: AdaptResult, config: AdaptConfig) -> str:
    """Markdown card of ``result`` (deterministic: no dates or paths beyond the names given)."""
    files = [h.file_id for h in result.harvest]
    shown = ", ".join(f"`{f}`" for f in files[:10]) + (f" and {len(files) - 10} more" if len(files) > 10 else "")
    rows = [("starting weights, their threshold", result.before), ("starting weights, re-tuned", result.before_retuned),
            ("**adapted**", result.after)]
    table = "\n".join(f"| {name} | {s.threshold:g} | {seconds(s.ungated_mae_s)} | {seconds(s.mae_s)} | "
                      f"{percent(s.acc_100ms, 1)} | {percent(s.no_change_moved, 1)} | {seconds(s.cost_s)} |"
                      for name, s in rows)
    harvest = "\n".join(f"| `{h.file_id}` | {h.speech_s:.1f} | {h.solo_s:.1f} | {h.after_margins_s:.1f} | "
                        f"{h.after_pauses_s:.1f} | {h.kept_s:.1f} | {h.n_stretches} |" for h in result.harvest)
    hc, rc = config.harvest, config.remix
    kept = (" Fine-tuning did not beat the starting weights on the held-out windows, so they were kept with the "
            "re-tuned threshold." if result.kept_start_weights else "")
    bullets = [
        f"**Adapted from**: `{result.start_model}` (its variant, front end and window settings are kept).",
        f"**Adapted on**: {len(files)} recording(s), {result.audio_s / 60:.1f} min of audio: {shown}.",
        f"**Harvest**: single-speaker regions of the hypotheses of at least {hc.min_solo_s:g} s, {hc.margin_s:g} s "
        f"margins, ends snapped to pauses within {hc.snap_s:g} s, stretches of at least {hc.min_keep_s:g} s whose "
        f"speaker-embedding cosine to their speaker's centroid is at least {hc.min_cosine:g}: "
        f"{result.harvested_s / 60:.1f} min kept.",
        f"**Re-mix**: {result.n_conversations} conversations ({result.remixed_s / 60:.1f} min, {result.n_changes} "
        f"speaker changes), speakers {'across recordings' if rc.across_recordings else 'of one recording each'}, "
        f"each stretch used once; {result.n_held_out_conversations} held out.",
        f"**Windows**: {result.n_train_windows} training / {result.n_held_out_windows} held out, "
        f"{config.draws_per_change} per change, initial boundaries from the `{config.error_model}` error model; "
        f"seed {config.seed}.",
        f"**Fine-tuning**: lr {config.lr:g}, batch {config.batch_size}, {result.epochs} epochs ({result.steps} steps), "
        f"stopped by {result.stopped_by} (budget {config.max_epochs} epochs / {config.minutes:g} min); the epoch of "
        f"the best held-out MAE kept.{kept}",
        f"**Threshold**: the one of least held-out cost (below) among {', '.join(f'{t:g}' for t in config.thresholds)}, "
        f"kept at the starting model's unless lower in {config.retune_confidence:.0%} of bootstrap resamples of the "
        "held-out changes."]
    points = "\n".join(f"- {b}" for b in bullets)
    return f"""# Model card: adapted from `{result.start_model}`

Made by `diarefine adapt` (no reference labels used). Threshold **{result.threshold:g}** (stored in the
checkpoint; `diarefine refine --model THIS.pt` uses it).

{points}

## Held-out windows (re-mixed conversations not trained on)

"Cost": mean distance from each boundary after refinement to where it should be (no-change
windows: how far it was moved); the threshold is chosen to minimise it.

| weights | threshold | MAE ungated | MAE at threshold | acc@100 ms | no-change moved | cost |
|---|---|---|---|---|---|---|
{table}

These windows come from the same recordings as the training windows (other stretches): they
measure the fit to this domain, not DER on the original recordings. Check that with a
reference if you have one (`diarefine score`).

## Harvest per recording (seconds)

| recording | hypothesis speech | single-speaker regions | after margins | after pauses | kept | stretches |
|---|---|---|---|---|---|---|
{harvest}
"""
