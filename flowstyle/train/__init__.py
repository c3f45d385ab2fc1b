"""Teaching the feed-forward network new styles: streamed training data, cached flow, the training loop."""

from .learn import LearnReport, learn_style
from .options import LearnOptions

__all__ = ["LearnOptions", "LearnReport", "learn_style"]
