"""The package imports and its metadata agree, without any optional extra."""

from __future__ import annotations

import importlib
import subprocess
import sys

import diarefine


def test_version_matches_the_installed_metadata() -> None:
    from importlib.metadata import version

    assert diarefine.__version__ == version("diarefine")


def test_every_module_imports_without_optional_extras() -> None:
    code = (
        "import sys, importlib, pkgutil, diarefine\n"
        "sys.modules['transformers'] = None; sys.modules['onnxruntime'] = None; sys.modules['lhotse'] = None\n"
        "for m in pkgutil.walk_packages(diarefine.__path__, 'diarefine.'):\n"
        "    importlib.import_module(m.name)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_cli_module_exposes_main() -> None:
    assert callable(importlib.import_module("diarefine.cli").main)
