"""The pretrained weights that ship inside the package (``assets/weights/``), with their provenance.

Each folder holds the weight file as published (CAM++ converted to float16 to stay under
16 MB), its licence, and a README with the source and SHA-256. A user's own copy of either
network is given by path instead (the ``weights`` option of the front end).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from ..errors import InputFileError

#: pyannote segmentation-3.0 (MIT, (c) 2020 CNRS): a pyannote.audio Lightning checkpoint.
SEGMENTATION_3 = "pyannote-segmentation-3.0/pytorch_model.bin"
#: CAM++ zh-en advanced (Apache-2.0, 3D-Speaker / ModelScope), float16 state dict.
CAMPPLUS_ZH_EN = "campplus-zh-en-advanced/campplus_cn_en_common.fp16.pt"


def shipped_weights(name: str) -> Path:
    """Path of a shipped weight file (``SEGMENTATION_3``, ``CAMPPLUS_ZH_EN``)."""
    return Path(str(resources.files("diarefine") / "assets" / "weights" / name))


def weights_path(given: str | Path, default: str) -> Path:
    """``given`` (a user's file), or the shipped ``default`` when empty; a missing file is an error."""
    path = Path(given) if str(given) else shipped_weights(default)
    if not path.is_file():
        raise InputFileError(path, "weights file not found" + ("" if str(given) else
                             " (the package's shipped copy is missing: reinstall diarefine)"))
    return path
