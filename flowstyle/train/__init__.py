"""Teaching the feed-forward network new styles and stability: streamed training data, cached flow, the training loops."""

from .learn import LearnReport, learn_style
from .options import LearnOptions, StableOptions
from .stable import StableReport, train_stable

__all__ = ["LearnOptions", "LearnReport", "StableOptions", "StableReport", "learn_style", "train_stable"]
