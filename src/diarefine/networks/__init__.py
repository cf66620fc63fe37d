"""Pretrained networks of the field, written in torch (our own code) and loaded from their original
weight files with a strict key match: pyannote's segmentation-3.0 (`pyannet.PyanNet`) and
3D-Speaker's CAM++ (`campplus.CAMPPlus`). ``weights.py`` says where the shipped copies are.

Nothing here needs pyannote.audio or 3D-Speaker installed; the front ends that use these
networks are ``features/pyannote_seg.py`` and ``embeddings/campplus.py``.
"""
