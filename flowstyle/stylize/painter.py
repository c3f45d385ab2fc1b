"""The networks of a render and the one function that runs them (docs/architecture.md, "The style value").

A :class:`Painter` loads, once per render, the networks its tracks need: one
multi-style network holding every learned row any track names (or a learned
style's own network), and the arbitrary-style transformer when a track has a
painting; each on the render's device, in its precision (fp32, bf16, fp16, or
int8 calibrated over every style the tracks use). :func:`paint` is the only
place a feed-forward network is called on frames: it pads, runs, crops, mixes
the strength and keeps colours, so every way of choosing a style (plain, keyed,
per region, the studio's preview, a distributed task) gets the same picture for
the same style, in every precision.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor, nn

from ..device import INT8
from ..io.frames import Frame
from ..tensors import frame_to_tensor, tensor_to_float, tensor_to_rgb
from .arbitrary import load_transformer, predict_style, shared_predictor
from .colour import mix_strength, preserve_colour
from .feedforward import load_multistyle
from .int8 import to_int8
from .learned import LearnedStyle
from .network import pad_to_multiple
from .options import StyleOptions
from .resolve import embed_weights, resolve_track
from .styles import StyleMix
from .track import ARBITRARY, MULTISTYLE, Conditioning, Look, StyleTrack

Network = tuple[str, str]  # (kind, weights): Conditioning.network

NORM_CACHE = 16  # arbitrary-network norm parameters kept (one per style vector in use)


def _unique(values: Sequence[Tensor]) -> list[Tensor]:
    seen, out = set(), []
    for v in values:
        key = v.detach().cpu().numpy().tobytes()
        if key not in seen:
            seen.add(key)
            out.append(v)
    return out


class Painter:
    """The feed-forward networks that ``tracks`` use, loaded once, on ``device`` in ``dtype``.

    Thread-safe: render workers call :func:`paint` on one painter at once.
    """

    def __init__(self, tracks: Sequence[StyleTrack], device: torch.device, dtype: torch.dtype) -> None:
        self.device = device
        conds = [c for t in tracks for c in t.conditionings]
        # Each multi-style network's learned rows: the union of every track's, in order of appearance.
        self.rows: dict[Network, tuple[LearnedStyle, ...]] = {}
        for c in conds:
            if c.kind == MULTISTYLE:
                known = self.rows.setdefault(c.network, ())
                self.rows[c.network] = known + tuple(s for s in c.rows if s.name not in {k.name for k in known})
        self.nets: dict[Network, nn.Module] = {}
        self.dtypes: dict[Network, torch.dtype] = {}
        self._norms: dict[tuple[Network, bytes], list[tuple[Tensor, Tensor]]] = {}
        self._own: Tensor | None = None  # the content's own style vector (arbitrary, strength < 1)
        self._lock = threading.Lock()
        for network in dict.fromkeys(c.network for c in conds):
            kind, weights = network
            if kind == MULTISTYLE:
                net = load_multistyle(device, dtype, StyleMix(torch.ones(1), self.rows[network]), weights)
                values = _unique([self._fit(c).value for c in conds if c.network == network])
                self.nets[network], self.dtypes[network] = self._precision(
                    net, dtype, values, lambda n, x, v: n(pad_to_multiple(x)[0], v), "multi-style")
            else:
                net = load_transformer(device, dtype, weights)
                vectors = _unique([c.value for c in conds if c.network == network])
                # Calibrated with each painting at full strength (strength moves the vector a little).
                params = [self._norm_params(net, v.to(device), dtype) for v in vectors]
                self.nets[network], self.dtypes[network] = self._precision(
                    net, dtype, params, lambda n, x, p: n(pad_to_multiple(x)[0], p), "arbitrary-style", vectors)

    def _precision(self, net: nn.Module, dtype: torch.dtype, styles: list, run, what: str,
                   key: list[Tensor] | None = None) -> tuple[nn.Module, torch.dtype]:
        """``net`` in int8 where asked and it holds the quality bar over every style it draws (stylize/int8.py)."""
        if dtype != INT8:
            return net, dtype
        return to_int8(net, lambda n, x: torch.cat([run(n, x, s) for s in styles]), key if key is not None else styles,
                       what)

    def _fit(self, c: Conditioning) -> Conditioning:
        """``c`` on this painter's device, its weights laid over this painter's rows of its network."""
        value = c.value
        rows = self.rows.get(c.network, ())
        if c.kind == MULTISTYLE and [s.name for s in c.rows] != [s.name for s in rows]:
            value = embed_weights(value, c.rows, rows)
        return dataclasses.replace(c, value=value.to(self.device), rows=rows)

    def fit(self, track: StyleTrack) -> StyleTrack:
        """``track`` with its conditionings fitted to this painter (once, when a stylizer is built)."""
        if any(c.network not in self.nets for c in track.conditionings):
            raise ValueError("the track names a network this painter did not load; build the painter with it")
        return dataclasses.replace(track, keys=tuple((t, self._fit(c)) for t, c in track.keys))

    @property
    def dtype(self) -> torch.dtype:
        """What the networks run in: the precision asked, or float32 where int8 fell back (one, if they agree)."""
        kinds = set(self.dtypes.values())
        return kinds.pop() if len(kinds) == 1 else torch.float32

    @staticmethod
    def _norm_params(net: nn.Module, vector: Tensor, dtype: torch.dtype) -> list[tuple[Tensor, Tensor]]:
        # INT8 is a marker, not a tensor dtype: its network is float32 around int8 convolutions.
        with torch.inference_mode():
            return net.norm_params(vector.to(dtype=torch.float32 if dtype == INT8 else dtype))

    def norm_params(self, network: Network, vector: Tensor) -> list[tuple[Tensor, Tensor]]:
        """An arbitrary network's norm parameters of ``vector``, computed once per vector in use."""
        key = (network, vector.detach().cpu().numpy().tobytes())
        with self._lock:
            params = self._norms.get(key)
        if params is None:
            params = self._norm_params(self.nets[network], vector.to(self.device), self.dtypes[network])
            with self._lock:
                if len(self._norms) >= NORM_CACHE:
                    self._norms.clear()
                self._norms[key] = params
        return params

    def own_vector(self, frames: Tensor) -> Tensor:
        """The content's own style vector, predicted once, from the first frame painted (a per-frame vector
        would make the style itself flicker)."""
        with self._lock:  # render workers share the painter; the first frame fixes it
            if self._own is None:
                self._own = predict_style(shared_predictor(), tensor_to_rgb(frames[:1])).to(self.device)
            return self._own


@torch.inference_mode()
def paint(painter: Painter, frames: Tensor, look: Look) -> Tensor:
    """Stylize ``frames`` (B, 3, H, W) float in [0, 1] on the painter's device as ``look`` says; returns float32.

    The one function that runs the feed-forward networks. Frames are reflect-padded to the
    networks' size multiple and cropped back. Strength follows each network's own
    meaning: the multi-style picture is mixed linearly with the input; the arbitrary
    network's style vector moves toward the content's own (Magenta). Between keys of the
    two networks, which share no style space, their pictures are mixed by share. Colours
    are kept last (luminance transfer, Gatys et al. 2016).
    """
    padded, (h, w) = pad_to_multiple(frames)
    original = frames.float()
    out, done = None, 0.0
    for c, share in look.parts:
        if share <= 0.0:
            continue
        if c.kind == ARBITRARY:
            vector = c.value
            if look.strength < 1.0:
                vector = look.strength * vector + (1.0 - look.strength) * painter.own_vector(frames)
            part = painter.nets[c.network](padded, painter.norm_params(c.network, vector))[..., :h, :w]
        else:
            part = mix_strength(painter.nets[c.network](padded, c.value)[..., :h, :w], original, look.strength)
        done += share
        out = part if out is None else out.lerp(part, share / done)
    if look.preserve_colour:
        out = preserve_colour(out, original)
    return out


class TrackStylizer:
    """A :class:`~flowstyle.stylize.base.Stylizer` that paints each frame as ``track`` says at the frame's time
    (its pts less ``start_time``, the clip's first presentation time). Stateless: frames may come in any
    order, on several threads.
    """

    sequential = False

    def __init__(self, painter: Painter, track: StyleTrack, start_time: float = 0.0) -> None:
        self.painter = painter
        self.track = painter.fit(track)
        self.start_time = start_time
        if self.track.needs_own_vector:
            # The content's own style vector comes from the render's first frame, in frame order
            # (the pipeline's ordered hook, docs/architecture.md "Seams"), not from whichever frame
            # a worker thread happens to stylize first. Only then: plain renders keep no hook.
            self.prepare = self._prepare

    def _prepare(self, frame: Frame, shot_start: bool) -> None:
        self.painter.own_vector(frame_to_tensor(frame, self.painter.device))

    @property
    def dtype(self) -> torch.dtype:
        return self.painter.dtype

    def __call__(self, frames: Tensor, t: float = 0.0) -> Tensor:
        """Stylize ``frames`` (B, 3, H, W) in [0, 1] as the track is at ``t`` seconds; float32."""
        return paint(self.painter, frames, self.track.at(t))

    def stylize(self, frame: Frame, shot_start: bool) -> np.ndarray:
        out = self(frame_to_tensor(frame, self.painter.device), frame.time - self.start_time)
        # A deep (float) frame gives a float picture: the network works in float.
        return tensor_to_float(out) if frame.rgb.dtype == np.float32 else tensor_to_rgb(out)


def make_stylizers(tracks: Sequence[StyleTrack], device: torch.device, dtype: torch.dtype,
                   start_time: float = 0.0) -> list[TrackStylizer]:
    """One stylizer per track, all sharing one :class:`Painter` (networks loaded and calibrated once)."""
    painter = Painter(tracks, device, dtype)
    return [TrackStylizer(painter, t, start_time) for t in tracks]


def make_stylizer(options: StyleOptions, device: torch.device, dtype: torch.dtype) -> TrackStylizer:
    """The stylizer of one constant style (``--style`` without keys or regions).

    Files and weights are resolved here, when the pipeline is built, not in the
    (pure-data) options: an unknown style or a missing painting fails now.
    """
    return make_stylizers([resolve_track(options)], device, dtype)[0]
