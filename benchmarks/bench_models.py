"""Model benchmark: size, inference speed and training-step throughput of every variant.

    python benchmarks/bench_models.py [--threads 2] [--device cpu] [--feature-dims 80 768]

For each registered variant with its default config: parameters, inference windows/s at
batch 64 (features excluded: random inputs of the cache's shapes, best of 3 timed rounds
after a warm-up), the diffusion sampler also at 5 steps, and training throughput (forward,
backward and AdamW step at batch 32). D = 80 is the default fbank front end, D = 768 WavLM.
Targets (issue 4, on a CPU): >= 2000 windows/s for mlp, transformer and contrastive,
>= 200 windows/s for diffusion at 10 steps.
"""

from __future__ import annotations

import argparse
import os
import time

import torch
from rich.console import Console
from rich.table import Table

from diarefine.models import MODELS


def random_batch(b: int, d: int, e: int = 256, t: int = 200, device: str = "cpu") -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    batch = {"features": torch.randn(b, t, d, generator=g), "mask": torch.ones(b, t, dtype=torch.bool),
             "left_emb": torch.randn(b, e, generator=g), "right_emb": torch.randn(b, e, generator=g),
             "offset_s": torch.rand(b, generator=g) - 0.5, "has_change": torch.rand(b, generator=g) > 0.3}
    batch["mask"][: b // 8, :40] = False
    return {k: v.to(device) for k, v in batch.items()}


def best_rate(step, n_windows: int, rounds: int = 3, repeats: int = 5, device: str = "cpu") -> float:
    """Windows per second of ``step()`` (n_windows each), best of ``rounds`` after one warm-up call."""
    step()
    best = float("inf")
    for _ in range(rounds):
        began = time.perf_counter()
        for _ in range(repeats):
            step()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        best = min(best, (time.perf_counter() - began) / repeats)
    return n_windows / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--feature-dims", type=int, nargs="+", default=[80, 768])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    table = Table(title=f"diarefine model benchmark ({args.device}, {args.threads} threads; "
                        "inference batch 64, training batch 32; features excluded)")
    for col in ("variant", "D", "parameters", "inference windows/s", "training windows/s"):
        table.add_column(col, justify="left" if col == "variant" else "right")
    for name in MODELS.names():
        for d in args.feature_dims:
            model = MODELS.build(name, feature_dim=d).to(args.device)
            infer = random_batch(64, d, device=args.device)
            model.eval()
            with torch.inference_mode():
                rates = [f"{best_rate(lambda: model(infer), 64, device=args.device):,.0f}"]
                if name == "diffusion":
                    rates.append(f"{best_rate(lambda: model.sample(infer, n_steps=5), 64, device=args.device):,.0f}"
                                 " (5 steps)")
            model.train()
            train = random_batch(32, d, device=args.device)
            optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)

            def train_step() -> None:
                optimizer.zero_grad()
                model.loss(train).backward()
                optimizer.step()

            table.add_row(name, str(d), f"{model.n_parameters():,}", " / ".join(rates),
                          f"{best_rate(train_step, 32, rounds=2, repeats=3, device=args.device):,.0f}")
    Console(width=160).print(table)


if __name__ == "__main__":
    main()
