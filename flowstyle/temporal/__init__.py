"""Temporal consistency: multi-band flow propagation (default), texture anchors, blind gradient-domain smoothing, scene cuts."""

from .base import PerFrame, TemporalStep
from .stabilizer import TEMPORAL_MODES, Motion, Stabilizer, TemporalOptions, estimate_motion

__all__ = ["TEMPORAL_MODES", "Motion", "PerFrame", "Stabilizer", "TemporalOptions", "TemporalStep", "estimate_motion"]
