"""Training data: corpus discovery, window drawing, the HDF5 cache, and a lazy torch Dataset."""

from ..workers import parse_shard
from .cache import SCHEMA, CacheWriter, check_config, read_config
from .corpus import Recording, discover_corpus, from_lhotse
from .dataset import WindowDataset, collate_windows
from .prepare import PrepareConfig, prepare_cache
from .windows import DIFFICULTY_NAMES, difficulty, draw_windows

__all__ = ["SCHEMA", "CacheWriter", "DIFFICULTY_NAMES", "PrepareConfig", "Recording", "WindowDataset",
           "check_config", "collate_windows", "difficulty", "discover_corpus", "draw_windows", "from_lhotse",
           "parse_shard", "prepare_cache", "read_config"]
