"""How a render follows painted keys: pure data, checked without I/O (docs/architecture.md, "Configs")."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import ConfigError
from ..temporal.propagate import PropagationOptions

DEFAULT_EVERY = 24  # frames between the keys flowstyle paints itself in a shot that has none


@dataclass(frozen=True)
class PaintedKeyOptions:
    """Painted keys and how they are carried to the other frames of their shots.

    Attributes:
        keyframes: ``FRAME=FILE`` texts as given: FRAME as ``--in`` takes it (a frame number,
            seconds ``2.5s`` or a timecode), FILE a stylized picture of that frame (any size
            of the same aspect).
        every: paint every Nth frame of each shot with the render's style or method and
            carry those keys (None: only the given keys).
        paint_keyless: a shot with no given key gets keys painted with the render's style
            every ``every`` (or :data:`DEFAULT_EVERY`) frames; False refuses such a shot.
        propagation: how keys are carried (:class:`~flowstyle.temporal.propagate.PropagationOptions`).
    """

    keyframes: tuple[str, ...] = ()
    every: int | None = None
    paint_keyless: bool = False
    propagation: PropagationOptions = field(default_factory=PropagationOptions)

    def __post_init__(self) -> None:
        if self.every is not None and self.every < 1:
            raise ConfigError("every", f"must be 1 or more frames, got {self.every}")
        for text in self.keyframes:
            frame, sep, path = text.partition("=")
            if not sep or not frame.strip() or not path.strip():
                raise ConfigError("keyframes", f"'{text}' is not FRAME=FILE (e.g. 48=keys/0048.png)")

    @property
    def active(self) -> bool:
        return bool(self.keyframes) or self.every is not None

    @property
    def spacing(self) -> int:
        """Frames between the keys flowstyle paints."""
        return self.every or DEFAULT_EVERY

    def parsed(self) -> list[tuple[str, str]]:
        """``(frame text, file)`` of each given key."""
        return [(f.strip(), p.strip()) for f, _, p in (t.partition("=") for t in self.keyframes)]
