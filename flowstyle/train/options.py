"""Settings of ``flowstyle learn-style``, in one frozen dataclass (they key the checkpoint)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from ..errors import ConfigError
from ..flow import FLOW_METHODS

TRAINABLE = ("norm", "all")
BASES = ("arbitrary", "multistyle")
# Content weight per base when not given. Arbitrary base, udnie, held-out bigbuckbunny
# frames, against the painting's predicted vector: 50 gave 0.30x the style loss at 1.09x
# the content loss after 3 minutes but drifted to 0.21x / 1.11x after 15; 100 gave
# 0.31x / 1.05x after 3 (the target: <= 0.5x at <= 1.1x). The multi-style row needs
# less (20, measured in its own runs).
CONTENT_WEIGHT = {"arbitrary": 100.0, "multistyle": 20.0}


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
            ``GatysOptions``. Content (None: :data:`CONTENT_WEIGHT` of the base) is
            higher than Gatys renders use (5): a network cannot fit each frame as an
            optimiser does; on held-out bigbuckbunny frames (udnie) content 20 kept
            more content (loss 60 vs 64) at the same style loss (2.27 vs 2.21) as 5
            for the multi-style row (first runs of scripts/bench_learn.py).
        temporal_weight: weight of the output temporal loss on neighbouring real
            frames (Ruder et al. 2018, ReCoNet): 0 trains on single crops. 1e7 with
            ``train="all"`` for 300 steps: E_warp 0.53x the untrained style's at
            512 px (5e5: 0.93x, 3e6: 0.83x after 100 steps; the raw loss is ~1e-3).
        base: the network the style rides on (:mod:`flowstyle.train.students`):
            ``arbitrary`` (a trained style vector, used as a painting is) or
            ``multistyle`` (a row of norms, blendable with the built-in styles).
        train: ``norm``: only the style's own numbers (the vector, or the multi-style
            network's conditional-instance-norm row, Dumoulin et al. 2017); ``all``
            (multistyle only): the convolutions too (the style then carries its own
            network and cannot be blended).
        init: multistyle only: style to start from: ``nearest`` (the built-in style
            whose outputs match the painting's Gram matrices best), or a built-in or
            learned style. The arbitrary base starts from the painting's predicted vector.
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
    content_weight: float | None = None
    style_weight: float = 1e3
    tv_weight: float = 1e3
    temporal_weight: float = 0.0
    base: str = "arbitrary"
    train: str = "norm"
    init: str = "nearest"
    style_scale: float = 1.0
    flow: str = "dis-medium"
    seed: int = 0
    device: str = "auto"
    precision: str = "auto"
    checkpoint_seconds: float = 60.0

    def __post_init__(self) -> None:
        # Pure checks of values; paintings and clips are read when training starts.
        if self.content_weight is None and self.base in BASES:
            object.__setattr__(self, "content_weight", CONTENT_WEIGHT[self.base])
        checks = (
            ("base", self.base in BASES, f"'{self.base}' (choose {', '.join(BASES)})"),
            ("train", self.train not in TRAINABLE or self.base == "multistyle" or self.train == "norm",
             f"'{self.train}' (training the convolutions needs --base multistyle)"),
            ("init", self.base == "multistyle" or self.init == "nearest",
             f"'{self.init}' (the arbitrary base starts from the painting's own style vector; --init needs --base multistyle)"),
            ("crop", 64 <= self.crop <= 1024 and self.crop % 4 == 0, f"{self.crop} (use a multiple of 4 in 64-1024)"),
            ("scales", bool(self.scales) and all(0 < v <= 1 and round(self.crop * v) >= 32 for v in self.scales),
             f"{self.scales} (each in (0, 1], crop x scale >= 32)"),
            ("batch", self.batch >= 1, f"{self.batch} (use 1 or more)"),
            ("steps", self.steps >= 1, f"{self.steps} (use 1 or more)"),
            ("minutes", self.minutes is None or self.minutes > 0, f"{self.minutes} (use more than 0)"),
            ("lr", self.lr > 0, f"{self.lr} (a learning rate must be > 0)"),
            ("conv_lr", self.conv_lr > 0, f"{self.conv_lr} (a learning rate must be > 0)"),
            ("content_weight", self.content_weight is not None and self.content_weight >= 0, f"{self.content_weight} (a negative loss weight)"),
            ("style_weight", self.style_weight >= 0, f"{self.style_weight} (a negative loss weight)"),
            ("tv_weight", self.tv_weight >= 0, f"{self.tv_weight} (a negative loss weight)"),
            ("temporal_weight", self.temporal_weight >= 0, f"{self.temporal_weight} (a negative loss weight)"),
            ("train", self.train in TRAINABLE, f"'{self.train}' (choose {', '.join(TRAINABLE)})"),
            ("flow", self.flow in FLOW_METHODS, f"'{self.flow}' (choose {', '.join(FLOW_METHODS)})"),
            ("style_scale", 0.25 <= self.style_scale <= 4, f"{self.style_scale} (use 0.25-4)"),
            ("precision", self.precision in ("auto", "fp32", "bf16"), f"'{self.precision}' (training uses auto, fp32 or bf16)"),
        )
        for name, ok, problem in checks:
            if not ok:
                raise ConfigError(name, f"invalid {problem}")

    def key_settings(self) -> dict:
        """The settings a checkpoint depends on: all but the budgets, paths and checkpoint period."""
        settings = asdict(self)
        for k in ("steps", "minutes", "checkpoint_seconds", "painting", "sources", "exclude", "device"):
            settings.pop(k)
        return settings


STABLE_NETWORKS = ("multistyle", "arbitrary")
# Default learning rates. Adam moves every weight by about the rate on each step, whatever its
# size, and the arbitrary network's convolution weights are ~10x smaller than the multi-style
# network's (mean |w| 0.013 against 0.14 in the residual blocks), so the same rate is a 10x larger
# relative step: one step at 2e-4 took its Gram difference to the teacher from 0.004 to 37
# (weighted, Gram weight 200), at 2e-5 to 0.6 (docs/stable.md, "Session 16").
STABLE_LR = {"multistyle": 1e-4, "arbitrary": 2e-5}


@dataclass(frozen=True)
class StableOptions:
    """How ``flowstyle train-stable`` fine-tunes a stable version of a shipped network (docs/stable.md).

    The student starts from the shipped weights and the frozen shipped network is its
    teacher; the loss is look-keeping distillation plus compound regularization
    (:mod:`flowstyle.train.stable`). Images are RGB in [0, 1].

    Attributes:
        network: ``multistyle`` (all 26 built-in styles; each crop gets a random style,
            sometimes a blend of two) or ``arbitrary`` (the arbitrary-style transformer; each
            crop gets the style vector predicted from a random crop of a painting).
        data: clips, pictures or folders to train on, beside the registry pictures.
        registry_pictures: also train on the pictures registry packages ship
            (:mod:`flowstyle.train.pictures`); False trains on ``data`` alone.
        paintings: ``arbitrary`` only: style pictures whose random crops give the style
            vectors; empty: the training pictures themselves (the predictor accepts any image).
        crop, batch: side of the square training crops and crops per step.
        steps, minutes: budgets; training stops at whichever comes first (not part of the
            checkpoint key: a finished run continues with a larger budget).
        lr: Adam learning rate of every parameter (cosine decay to a tenth over the budget);
            None: the network's own default (:data:`STABLE_LR`, :attr:`learning_rate`).
            A probe (docs/stable.md): 1e-4 gave the multi-style network 0.97x E_warp at 0.98x
            sharpness after 450 steps; higher rates bought stability with blur.
        gram_weight: relative Gram differences to the teacher's output at relu1_1, relu1_2,
            relu2_2, relu3_3 (the finest layers, where the look was lost).
        content_weight: relative relu3_3 difference to the teacher's output.
        colour_weight: squared difference of 8x8 block means to the teacher's output.
        sharpness_weight: squared log ratio of the student's and the teacher's Laplacian
            energy (mean squared Laplacian of luma, per crop).
        stability_weight: compound regularization (ReReVST): masked MSE between the output
            of the moved, noisy crop and the moved output of the crop.
            The weights were chosen in probes (128 px crops of the registry pictures, 150
            steps at lr 5e-4; held-out crops with fixed warps, styles 2, 7, 16, 21; Adam makes
            only their ratios matter): stability 10 : Gram 1 : content 1 (colour 10, sharpness
            1) moved the compound loss to 0.93x the teacher's at 41 dB to it; 100 : 10 : 1
            (colour 100, sharpness 10), the default, to 0.87x at 34 dB, relative Grams ~1e-3
            per layer; 300 : 10 : 1 to 0.76x but at 29 dB (Grams 3-6e-3). Sharpness stayed
            0.99-1.00x in all three (the sharpness term holds it; a 0.5 px blur costs 0.3-0.5
            of it, raw, and gains only 0.0003-0.004 of raw compound loss).
        warp_shift, warp_degrees, warp_scale: the random affine motion: up to this many px
            of shift, degrees of rotation and relative scale change.
        warp_flow: amplitude (px) of the smooth random flow added to it (a 4x4 random field
            upsampled bicubically).
        noise: standard deviation of the Gaussian noise added to the moved crop.
        blend_chance: ``multistyle``: share of crops that get a random blend of two styles.
        seed: seeds crops, styles, motions and noise; a run is reproducible from it.
        device, precision: as for learn-style (``auto``: bf16 autocast where native).
        checkpoint: the checkpoint file; None: ``$FLOWSTYLE_HOME/training/stable-NETWORK/checkpoint.pt``.
        export: where the student's state dict is written when training ends (with a JSON
            recipe beside it); None: nothing is exported.
        start_from: start the student from these weights instead of the shipped ones: a
            train-stable checkpoint or an exported network of the same ``network``. A
            schedule in stages (a later stage weighs stability up from an earlier stage's
            weights, the teacher staying the shipped network); read only when a run starts.
        checkpoint_seconds: how often the checkpoint is written.
        antialias: train the anti-aliased form of the network (each stride-2 conv blurs
            first, each upsampling conv interpolates bilinearly; :mod:`flowstyle.models.multistyle`).
            The shipped networks are equivariant to shifts of 4 px only; with the blurs added
            and nothing trained, their compound loss under 0.5-3 px shifts fell to 0.25-0.39x
            (multi-style) and 0.29-0.42x (arbitrary) (docs/stable.md).
    """

    network: str = "multistyle"
    data: tuple[str, ...] = ()
    registry_pictures: bool = True
    paintings: tuple[str, ...] = ()
    crop: int = 256
    batch: int = 4
    steps: int = 5000
    minutes: float | None = None
    lr: float | None = None
    gram_weight: float = 10.0
    content_weight: float = 1.0
    colour_weight: float = 100.0
    sharpness_weight: float = 10.0
    stability_weight: float = 100.0
    warp_shift: float = 4.0
    warp_degrees: float = 1.0
    warp_scale: float = 0.02
    warp_flow: float = 2.0
    noise: float = 0.02
    blend_chance: float = 0.25
    seed: int = 0
    device: str = "auto"
    precision: str = "auto"
    checkpoint: str | None = None
    export: str | None = None
    start_from: str | None = None
    checkpoint_seconds: float = 60.0
    antialias: bool = False

    def __post_init__(self) -> None:
        # Pure checks of values; pictures and weights are read when training starts.
        weights = ("gram_weight", "content_weight", "colour_weight", "sharpness_weight", "stability_weight",
                   "warp_shift", "warp_degrees", "warp_scale", "warp_flow", "noise")
        checks = (
            ("network", self.network in STABLE_NETWORKS, f"'{self.network}' (choose {', '.join(STABLE_NETWORKS)})"),
            ("paintings", not self.paintings or self.network == "arbitrary",
             "(style pictures drive the arbitrary network only; the multi-style network trains its 26 built-in styles)"),
            ("data", bool(self.data) or self.registry_pictures,
             "(nothing to train on: pass --data, or keep the registry pictures)"),
            ("crop", 64 <= self.crop <= 1024 and self.crop % 4 == 0, f"{self.crop} (use a multiple of 4 in 64-1024)"),
            ("batch", self.batch >= 1, f"{self.batch} (use 1 or more)"),
            ("steps", self.steps >= 1, f"{self.steps} (use 1 or more)"),
            ("minutes", self.minutes is None or self.minutes > 0, f"{self.minutes} (use more than 0)"),
            ("lr", self.lr is None or self.lr > 0, f"{self.lr} (a learning rate must be > 0)"),
            *((name, getattr(self, name) >= 0, f"{getattr(self, name)} (must be >= 0)") for name in weights),
            ("warp_scale", self.warp_scale < 0.5, f"{self.warp_scale} (use less than 0.5)"),
            ("blend_chance", 0 <= self.blend_chance <= 1, f"{self.blend_chance} (use 0-1)"),
            ("precision", self.precision in ("auto", "fp32", "bf16"), f"'{self.precision}' (training uses auto, fp32 or bf16)"),
            ("checkpoint_seconds", self.checkpoint_seconds > 0, f"{self.checkpoint_seconds} (use more than 0)"),
        )
        for name, ok, problem in checks:
            if not ok:
                raise ConfigError(name, f"invalid {problem}")

    @property
    def learning_rate(self) -> float:
        """``lr``, or the network's default where it is not given."""
        return self.lr if self.lr is not None else STABLE_LR[self.network]

    def key_settings(self) -> dict:
        """The settings a checkpoint depends on: all but the budgets, paths and checkpoint period
        (the training data is keyed by its sources, not by the paths as given)."""
        settings = {**asdict(self), "lr": self.learning_rate}  # a default keys as the same rate given
        for k in ("steps", "minutes", "checkpoint_seconds", "device", "data", "paintings", "checkpoint", "export",
                  "start_from"):
            settings.pop(k)
        if not self.antialias:  # keyed only when set: checkpoints made before the option still continue
            settings.pop("antialias")
        return settings
