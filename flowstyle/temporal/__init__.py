"""Temporal consistency: multi-band flow propagation (default), texture anchors, blind gradient-domain smoothing, scene cuts."""

from .stabilizer import TEMPORAL_MODES, Motion, Stabilizer, TemporalOptions, estimate_motion

__all__ = ["TEMPORAL_MODES", "Motion", "Stabilizer", "TemporalOptions", "estimate_motion"]
