"""Simulated conversations from single-speaker speech, and hypothesis error models."""

from .conversation import TurnTaking
from .corpus import (
                     Acoustics,
                     SimulationConfig,
                     SimulationSummary,
                     parse_speed_factors,
                     parse_splits,
                     simulate_corpus,
)
from .error_models import (
                     DEFAULT_ERROR_MODEL,
                     EmpiricalErrors,
                     ErrorModel,
                     GaussianErrors,
                     fit_error_model,
                     load_error_model,
                     save_error_model,
)
from .perturb import perturb

__all__ = ["Acoustics", "DEFAULT_ERROR_MODEL", "EmpiricalErrors", "ErrorModel", "GaussianErrors", "SimulationConfig",
           "SimulationSummary", "TurnTaking", "fit_error_model", "load_error_model", "parse_speed_factors", "parse_splits",
           "perturb", "save_error_model", "simulate_corpus"]
