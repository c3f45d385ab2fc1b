"""Settings of ``flowstyle learn-style``, in one frozen dataclass (they key the checkpoint)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from ..errors import FlowstyleError
from ..flow import FLOW_METHODS

TRAINABLE = ("norm", "all")


@dataclass(frozen=True)
class LearnOptions:
    """How a new style is learned.

    Images are RGB in [0, 1]; the loss network sees them in Caffe scale, so the
    content and style weights mean what they mean for ``--method gatys``.

    Attributes:
        painting: the style image.
        name: the new style's name (``--style NAME``).
        sources: clips, pictures or folders to train on; empty: ``../shared/media``
            beside the repository, if it is there.
        exclude: files under ``sources`` not to use (held-out clips).
        crop: side of the square training crops (the painting is scaled to
            ``style_scale`` x this width for its Gram targets).
        batch: crops per step (at scale 1).
        scales: training alternates between these scales: at scale s the frames are
            decoded s times as large (shorter side 1.125 x crop x s), crops are crop x s
            and a batch holds batch / s^2 of them (the same pixels per step). Renders are
            made at many sizes; at a single scale (1.0) temporal training measured
            E_warp 0.53x per-frame at 512x288 but 0.71x at 256x144 (bigbuckbunny).
        steps, minutes: budgets: training stops at whichever comes first (not part of
            the checkpoint key: a finished run can be continued with a larger budget).
        lr: Adam learning rate of the norm parameters (scales and shifts); both rates
            decay to a tenth over the budget (cosine), so a time budget ends settled.
        conv_lr: Adam learning rate of the convolutions (``train="all"`` only).
        content_weight, style_weight, tv_weight: Gatys et al. 2016 losses as in
            ``GatysOptions``. Content 20 (Gatys renders use 5): a network cannot fit
            each frame as an optimiser does; on held-out bigbuckbunny frames (udnie)
            content 20 kept more content (loss 60 vs 64) at the same style loss (2.27
            vs 2.21) as 5 (first runs of scripts/bench_learn.py).
        temporal_weight: weight of the output temporal loss on neighbouring real
            frames (Ruder et al. 2018, ReCoNet): 0 trains on single crops. 1e7 with
            ``train="all"`` for 300 steps: E_warp 0.53x the untrained style's at
            512 px (5e5: 0.93x, 3e6: 0.83x after 100 steps; the raw loss is ~1e-3).
        train: ``norm``: only the new style's conditional-instance-norm parameters
            (Dumoulin et al. 2017); ``all``: the convolutions too (the style then
            carries its own network and cannot be blended).
        init: style to start from: ``nearest`` (the built-in style whose outputs
            match the painting's Gram matrices best), or a built-in or learned style.
        style_scale: > 1 learns larger marks (the painting is shown larger).
        flow: optical flow of the temporal pairs.
        seed: seeds the crops; a run is reproducible from it.
        device, precision: as for render (``auto``: bf16 where native).
        checkpoint_seconds: how often the checkpoint is written.
    """

    painting: str
    name: str
    sources: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    crop: int = 256
    batch: int = 4
    scales: tuple[float, ...] = (1.0, 0.5)
    steps: int = 700
    minutes: float | None = None
    lr: float = 1e-2
    conv_lr: float = 2e-4
    content_weight: float = 20.0
    style_weight: float = 1e3
    tv_weight: float = 1e3
    temporal_weight: float = 0.0
    train: str = "norm"
    init: str = "nearest"
    style_scale: float = 1.0
    flow: str = "dis-medium"
    seed: int = 0
    device: str = "auto"
    precision: str = "auto"
    checkpoint_seconds: float = 60.0

    def __post_init__(self) -> None:
        problems = []
        if not 64 <= self.crop <= 1024 or self.crop % 4:
            problems.append(f"crop {self.crop} (use a multiple of 4 in 64-1024)")
        if not self.scales or any(not 0 < v <= 1 or round(self.crop * v) < 32 for v in self.scales):
            problems.append(f"scales {self.scales} (each in (0, 1], crop x scale >= 32)")
        if self.batch < 1:
            problems.append(f"batch {self.batch}")
        if self.steps < 1:
            problems.append(f"steps {self.steps} (use 1 or more)")
        if self.minutes is not None and self.minutes <= 0:
            problems.append(f"minutes {self.minutes}")
        if min(self.lr, self.conv_lr) <= 0:
            problems.append("a learning rate <= 0")
        if min(self.content_weight, self.style_weight, self.tv_weight, self.temporal_weight) < 0:
            problems.append("a negative loss weight")
        if self.train not in TRAINABLE:
            problems.append(f"train '{self.train}' (choose {', '.join(TRAINABLE)})")
        if self.flow not in FLOW_METHODS:
            problems.append(f"flow '{self.flow}' (choose {', '.join(FLOW_METHODS)})")
        if not 0.25 <= self.style_scale <= 4:
            problems.append(f"style scale {self.style_scale} (use 0.25-4)")
        if self.precision not in ("auto", "fp32", "bf16"):
            problems.append(f"precision '{self.precision}' (training uses auto, fp32 or bf16)")
        if problems:
            raise FlowstyleError("learn-style: invalid " + "; ".join(problems))

    def key_settings(self) -> dict:
        """The settings a checkpoint depends on: all but the budgets, paths and checkpoint period."""
        settings = asdict(self)
        for k in ("steps", "minutes", "checkpoint_seconds", "painting", "sources", "exclude", "device"):
            settings.pop(k)
        return settings
