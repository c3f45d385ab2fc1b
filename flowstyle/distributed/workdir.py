"""The resume folder of a distributed render, beside the output.

Layout of ``OUTPUT.flowstyle-segments/``::

    key.json       what the segments are rendered from: input sha256 and every setting
    plan.json      the segments (frame ranges and pre-rolls), so a resume does not scan again
    00000.mp4 ...  finished segments, each renamed into place only when complete

Keyed like the Gatys folder (:mod:`flowstyle.gatys.workdir`, whose hash and key
comparison it reuses): a folder holding segments rendered with other settings
is refused in one line, so a resume never mixes two renders. Temporary files of
segments in flight when a process died (``.NAME.*.part.mp4``) are never taken
for finished ones and are swept on the next run.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
from pathlib import Path

from ..errors import OutputError
from ..io.atomic import atomic_write_json
from ..gatys.workdir import claim
from .plan import Plan, Segment

log = logging.getLogger(__name__)

FORMAT = 1
SUFFIX = ".flowstyle-segments"


def segments_path(output: Path) -> Path:
    return output.with_name(output.name + SUFFIX)


def plan_to_dict(plan: Plan) -> dict:
    return {"frames": plan.frames, "cuts": list(plan.cuts), "segments": [dataclasses.asdict(s) for s in plan.segments]}


def plan_from_dict(data: dict) -> Plan:
    return Plan(int(data["frames"]), tuple(data["cuts"]),
                tuple(Segment(**{**s, "cuts": tuple(s.get("cuts", ()))}) for s in data["segments"]))


class SegmentFolder:
    """Finished segments of one render; refuses a folder of another render."""

    def __init__(self, output: Path, key: dict | None, restart: bool = False) -> None:
        """``key`` None opens an existing folder read-only (``flowstyle status``)."""
        self.output = output
        self.path = segments_path(output)
        self.suffix = output.suffix or ".mp4"
        if key is None:
            return
        key = {"format": FORMAT, **json.loads(json.dumps(key))}  # JSON-normalised (tuples -> lists)
        try:
            if restart and self.path.exists():
                shutil.rmtree(self.path)
            self.path.mkdir(exist_ok=True)
            claim(self.path, key, lambda: f"{len(self.finished())} segments")
            for stale in self.path.glob(".*.part*"):
                stale.unlink(missing_ok=True)  # a segment in flight when its process died
        except OSError as exc:
            raise OutputError(self.path, f"cannot use the resume folder ({exc.strerror})") from None

    @property
    def exists(self) -> bool:
        return (self.path / "key.json").exists()

    def file(self, segment: Segment) -> Path:
        return self.path / f"{segment.name}{self.suffix}"

    def finished(self) -> set[int]:
        """Indices of the segments whose file is complete."""
        if not self.path.is_dir():
            return set()
        return {int(p.stem) for p in self.path.glob("[0-9]" * 5 + self.suffix)}

    def load_plan(self) -> Plan | None:
        try:
            return plan_from_dict(json.loads((self.path / "plan.json").read_text()))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def save_plan(self, plan: Plan) -> None:
        atomic_write_json(self.path / "plan.json", plan_to_dict(plan))

    def key(self) -> dict:
        try:
            return json.loads((self.path / "key.json").read_text())
        except (OSError, ValueError):
            return {}

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
