"""diarefine: make speaker-diarization boundaries precise."""
__version__ = "0.1.0"
