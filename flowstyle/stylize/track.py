"""The one style value of a render: a :class:`StyleTrack`, resolved once when the render is built.

Every way of choosing a style ends here: a plain ``--style`` (a track with one key),
style and strength keys (``--style-at``, ``--strength-at``), a region's style or its
own keys, the studio's preview, and each distributed task (which builds its render
as one process does). A track says, for any time ``t``, what the networks are told
(:meth:`StyleTrack.at`): which network, its conditioning, the strength, and whether
colours are kept. :func:`flowstyle.stylize.painter.paint` is the one function that
runs the networks with it (docs/architecture.md, "The style value").

The value is plain data once resolved (tensors, numbers, names): no weights are
loaded here, so the same track can be handed to any :class:`~flowstyle.stylize.painter.Painter`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from torch import Tensor

from .keyframes import key_weights, strength_at
from .learned import LearnedStyle

#: The two feed-forward networks. A multi-style conditioning is a weight vector over the
#: network's conditional-instance-norm rows (Dumoulin et al. 2017); an arbitrary one is
#: the 100-d style vector of Ghiasi et al. 2017.
MULTISTYLE = "multistyle"
ARBITRARY = "arbitrary"
#: Which weights a network runs with: the shipped ones, or the versions fine-tuned for temporal
#: stability (``--network stable``; docs/stable.md). A learned style that brought its own
#: network says ``learned:NAME``.
ORIGINAL = "original"
STABLE = "stable"
NETWORKS = (STABLE, ORIGINAL)


@dataclass(frozen=True, eq=False)
class Conditioning:
    """One style as one network takes it.

    Attributes:
        kind: which network draws it: :data:`MULTISTYLE` or :data:`ARBITRARY`.
        value: the multi-style weights over ``26 + len(rows)`` rows (summing to 1), or the
            arbitrary network's (100,) style vector.
        rows: the learned styles whose rows follow the 26 built-in ones, in the order
            ``value`` counts them (a :class:`~flowstyle.stylize.painter.Painter` maps them
            onto its own rows).
        weights: the network's weights: :data:`ORIGINAL`, :data:`STABLE`, or ``learned:NAME`` for a
            learned style that brought its own convolutions (it blends with nothing else).
    """

    kind: str
    value: Tensor
    rows: tuple[LearnedStyle, ...] = ()
    weights: str = ORIGINAL

    @property
    def network(self) -> tuple[str, str]:
        """The network that draws it: kind and weights (conditionings of one network blend by value)."""
        return self.kind, self.weights


@dataclass(frozen=True, eq=False)
class Look:
    """What the networks are told for one frame: each network's blended conditioning and its share
    of the picture (the shares sum to 1), the strength, and whether colours are kept."""

    parts: tuple[tuple[Conditioning, float], ...]
    strength: float
    preserve_colour: bool


@dataclass(frozen=True, eq=False)
class StyleTrack:
    """A style over time: style keys, strength keys and the settings that hold throughout.

    Attributes:
        keys: ``(seconds from the clip start, conditioning)`` in time order; one key is a
            constant style.
        strength_keys: ``(seconds, strength)`` in time order; empty: ``strength`` throughout.
        strength: 1 fully stylized ... 0 the input (multi-style: a linear mix of the
            pictures; arbitrary: the style vector moves toward the content's own).
        preserve_colour: keep the input's colours, take the stylized luminance.
        interpolation: ``smooth`` or ``linear`` between keys.
    """

    keys: tuple[tuple[float, Conditioning], ...]
    strength_keys: tuple[tuple[float, float], ...] = ()
    strength: float = 1.0
    preserve_colour: bool = False
    interpolation: str = "smooth"

    def __post_init__(self) -> None:
        # A constant track (a plain --style) answers every frame with the same Look.
        constant = len(self.keys) == 1 and not self.strength_keys
        object.__setattr__(self, "_constant", self._look(0.0) if constant else None)

    @property
    def conditionings(self) -> tuple[Conditioning, ...]:
        return tuple(c for _, c in self.keys)

    @property
    def needs_own_vector(self) -> bool:
        """True when the arbitrary network may paint below full strength (toward the content's own vector)."""
        return (any(c.kind == ARBITRARY for c in self.conditionings)
                and min([self.strength] + [v for _, v in self.strength_keys]) < 1.0)

    def strength_at(self, t: float) -> float:
        return strength_at([v for _, v in self.strength_keys], [k for k, _ in self.strength_keys], t,
                           self.interpolation, self.strength)

    def at(self, t: float) -> Look:
        """The look at ``t`` seconds from the clip start: between two keys of one network its conditioning is
        interpolated (the style itself moves, not the pixels: docs/regions.md, "Style keyframes"); between keys
        of two networks, which share no style space, each draws its share of the picture."""
        return self._constant if self._constant is not None else self._look(t)

    def _look(self, t: float) -> Look:
        times = [k for k, _ in self.keys]
        shares: dict[tuple[str, str], list[tuple[Conditioning, float]]] = {}
        for i, w in key_weights(times, t, self.interpolation):
            c = self.keys[i][1]
            shares.setdefault(c.network, []).append((c, w))
        parts = []
        for network, items in shares.items():
            total = sum(w for _, w in items)
            if len(items) == 1:
                parts.append((items[0][0], total))
                continue
            # Keys of one network count their rows alike (one resolution): blend the values.
            value = sum(w / total * c.value for c, w in items)
            parts.append((dataclasses.replace(items[0][0], value=value), total))
        return Look(tuple(parts), self.strength_at(t), self.preserve_colour)
