"""Scene cuts on a real clip with known cuts, and none on single-shot clips."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowstyle.io.reader import SizePolicy, VideoReader
from flowstyle.scenes import CutDetector


def cuts(path: Path) -> list[int]:
    detector = CutDetector()
    with VideoReader(path, SizePolicy(max_width=320)) as reader:
        return [f.index for f in reader if detector.is_cut(f.rgb)]


def test_bikes_cuts_found_exactly(media: Path) -> None:
    assert cuts(media / "videos" / "bikes.mp4") == [30, 76, 137, 187, 242]


@pytest.mark.parametrize("name", ["bigbuckbunny.mp4", "tree.avi"])
def test_no_false_cuts(media: Path, name: str) -> None:
    assert cuts(media / "videos" / name) == []
