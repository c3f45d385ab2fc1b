"""Teaching the feed-forward network new styles: streamed training data, cached flow, the training loop."""

from .learn import LearnReport, TrainProgress, learn_style
from .options import LearnOptions

__all__ = ["LearnOptions", "LearnReport", "TrainProgress", "learn_style"]
