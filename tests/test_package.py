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
    # The extras are hidden from imports, find_spec and package metadata (torchmetrics, under
    # Lightning, probes for onnxruntime and imports it when found), as in an environment without them.
    code = (
        "import importlib, importlib.machinery as machinery, importlib.metadata as metadata, pkgutil\n"
        "HIDDEN = ('transformers', 'onnxruntime', 'lhotse')\n"
        "found, from_name = machinery.PathFinder.find_spec, metadata.Distribution.from_name\n"
        "def find_spec(cls, name, path=None, target=None):\n"
        "    return None if name.split('.')[0] in HIDDEN else found(name, path, target)\n"
        "def distribution(cls, name):\n"
        "    if name.lower() in HIDDEN:\n"
        "        raise metadata.PackageNotFoundError(name)\n"
        "    return from_name(name)\n"
        "machinery.PathFinder.find_spec = classmethod(find_spec)\n"
        "metadata.Distribution.from_name = classmethod(distribution)\n"
        "import diarefine\n"
        "for m in pkgutil.walk_packages(diarefine.__path__, 'diarefine.'):\n"
        "    importlib.import_module(m.name)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_cli_module_exposes_main() -> None:
    assert callable(importlib.import_module("diarefine.cli").main)
