"""Inference precision of the shipped networks on CPU.

``float32`` (the default) gives the same outputs on every machine. ``bfloat16`` runs the heavy
layers (segmentation-3.0 after its sinc stage, all of CAM++) under torch's CPU autocast: about a
fifth less time on CPUs that compute bfloat16 natively (AVX512-BF16 / AMX: recent Xeons and
EPYCs), more on the others; its outputs differ slightly from float32's (DER measured in the
docs/RESULTS.md, "Built-in diarizers: speed, memory, refining its hypotheses").
"""

from __future__ import annotations

import contextlib
import warnings

import torch

PRECISIONS = ("float32", "bfloat16")


def native_bfloat16() -> bool:
    """Whether this CPU computes bfloat16 natively (oneDNN's AVX512-BF16 / AMX kernels)."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # a torch build without oneDNN
        return False


def check_precision(precision: str) -> None:
    """Raise ValueError for a precision not in `PRECISIONS`; warn where bfloat16 would be emulated (slow)."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision == "bfloat16" and not native_bfloat16():
        warnings.warn("this CPU has no native bfloat16 (AVX512-BF16 / AMX): bfloat16 will be slower than float32",
                      RuntimeWarning, stacklevel=2)


def autocast(precision: str) -> contextlib.AbstractContextManager:
    """The context to run a network's forward pass in at ``precision`` (float32: none)."""
    return torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bfloat16")
