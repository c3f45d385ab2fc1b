"""Timecode of issue #13: parse, drop-frame arithmetic, read from a source, shift by an in-point
and write to the output (a mov tmcd track), through real files made with PyAV."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import pytest

from flowstyle.errors import InputError
from flowstyle.io.codecs import resolve
from flowstyle.io.colour import ColourTags
from flowstyle.io.timecode import Timecode, parse_position, read_timecode
from flowstyle.io.writer import VideoWriter
from synth import picture
from synth_deep import write_tagged_clip

FILM, NTSC = Fraction(24000, 1001), Fraction(30000, 1001)


def test_parse_and_print() -> None:
    tc = Timecode.from_string("01:00:10:12", FILM)
    assert (tc.frame, str(tc), tc.drop_frame) == ((3600 + 10) * 24 + 12, "01:00:10:12", False)
    df = Timecode.from_string("01:00:10;12", NTSC)
    # Drop-frame: 2 labels skipped in each of the 54 minutes not divisible by 10 of the first hour.
    assert df.drop_frame and df.frame == (3600 + 10) * 30 + 12 - 2 * 54 and str(df) == "01:00:10;12"
    # ';' at a rate without drop-frame counting reads as non-drop.
    assert not Timecode.from_string("00:00:01;00", Fraction(25)).drop_frame


@pytest.mark.parametrize("start,rate,frames,want", [
    ("01:00:00:00", FILM, 48, "01:00:02:00"),     # 23.976 counts in 24s
    ("01:00:00;00", NTSC, 48, "01:00:01;18"),     # minute 60 is divisible by 10: nothing dropped yet
    ("00:00:59;29", NTSC, 1, "00:01:00;02"),      # ;00 and ;01 of minute 1 do not exist
    ("00:09:59;29", NTSC, 1, "00:10:00;00"),      # ... except every tenth minute
    ("01:00:00;00", NTSC, 1800, "01:01:00;02"),   # 1800 frames = 1 min 0.06 s of labels at 29.97 DF
    ("01:00:00:00", NTSC, 48, "01:00:01:18"),     # 29.97 non-drop
])
def test_shift(start: str, rate: Fraction, frames: int, want: str) -> None:
    assert str(Timecode.from_string(start, rate).shifted(frames)) == want


@pytest.mark.parametrize("text,problem", [
    ("01:00:xx:00", "'01:00:xx:00' is not a timecode; use HH:MM:SS:FF (HH:MM:SS;FF for drop-frame)"),
    ("01:00:00:30", "'01:00:00:30' is not a timecode at 29.970 fps (frames 00-29"),
    ("00:01:00;01", "'00:01:00;01' does not exist in drop-frame timecode"),
])
def test_bad_timecode_is_one_line(text: str, problem: str) -> None:
    with pytest.raises(InputError) as info:
        Timecode.from_string(text, NTSC, what="--in")
    assert str(info.value).startswith("--in: ") and problem in str(info.value) and "\n" not in str(info.value)


def test_positions_from_timecode_seconds_or_frames() -> None:
    start = Timecode.from_string("01:00:00:00", Fraction(24))
    assert parse_position("01:00:10:12", Fraction(24), start) == 252
    assert parse_position("12.5s", Fraction(24)) == 300
    assert parse_position("300", Fraction(24)) == 300
    with pytest.raises(InputError, match=r"^--out: 'twelve' is not a position; use a timecode"):
        parse_position("twelve", Fraction(24), what="--out")
    with pytest.raises(InputError, match=r"--in: 00:59:00:00 is before the clip's first frame \(01:00:00:00\)"):
        parse_position("00:59:00:00", Fraction(24), start)


@pytest.mark.parametrize("rate,start,want", [(FILM, "01:00:00:00", "01:00:02:00"), (NTSC, "01:00:00;00", "01:00:01;18")])
def test_source_timecode_shifted_by_the_in_point_is_written_as_a_tmcd_track(tmp_path: Path, rate: Fraction,
                                                                             start: str, want: str) -> None:
    """Issue #13 target: a source at 01:00:00:00 rendered from frame 48 carries 01:00:00:00 + 48 frames."""
    tb = 1 / rate
    src = write_tagged_clip(tmp_path / "src.mov", 60, rate, codec="prores_ks", pix_fmt="yuv422p10le", timecode=start)
    with av.open(str(src)) as c:
        tc = read_timecode(c)
        assert any(s.type == "data" for s in c.streams)  # the tmcd track PyAV's muxer wrote
    assert tc is not None and str(tc) == start and tc.rate == rate
    out = tmp_path / "out.mov"
    writer = VideoWriter(out, (32, 24), tb, rate, ColourTags(1, 1, 1, 1), spec=resolve(out, "prores"),
                         timecode=tc.shifted(48))
    for i in range(48, 60):
        writer.write(picture(i, 32, 24), i - 48)
    writer.close()
    with av.open(str(out)) as c:
        data = [s for s in c.streams if s.type == "data"]
        assert len(data) == 1 and data[0].metadata["timecode"] == want
        assert str(read_timecode(c)) == want


def test_timecode_in_format_metadata_is_found(tmp_path: Path) -> None:
    src = write_tagged_clip(tmp_path / "src.mkv", 3, Fraction(25), container_metadata={"timecode": "10:00:00:00"})
    with av.open(str(src)) as c:
        assert str(read_timecode(c)) == "10:00:00:00"
    plain = write_tagged_clip(tmp_path / "plain.mkv", 3, Fraction(25))
    with av.open(str(plain)) as c:
        assert read_timecode(c) is None
