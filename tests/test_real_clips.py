"""End-to-end renders of real clips from ../shared/media at small size: timing,
frame count and audio match the input, and the frames are the network's output
on the decoded input (within codec tolerance) and clearly not the input."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
import torch

from flowstyle import RenderConfig, render
from flowstyle.io.reader import SizePolicy, VideoReader
from flowstyle.render import frame_to_tensor, tensor_to_rgb
from flowstyle.stylize.options import StyleOptions
from flowstyle.stylize.painter import make_stylizer
from flowstyle.temporal import TemporalOptions
from synth import audio_duration, video_pts_seconds

WIDTH = 192


def decoded_frames(path: Path, size: SizePolicy = SizePolicy()) -> list[np.ndarray]:
    with VideoReader(path, size) as reader:
        return [f.rgb for f in reader]


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0**2 / mse))


def through_yuv420p(rgb: np.ndarray) -> np.ndarray:
    """What 4:2:0 chroma subsampling alone does to a frame (the codec's unavoidable part)."""
    f = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
    return f.to_ndarray(format="rgb24")


def check_render(src: Path, dst: Path, style: str) -> None:
    # Per-frame, so every output frame can be checked against the network itself.
    config = RenderConfig(style=StyleOptions(style=style), size=SizePolicy(max_width=WIDTH),
                          temporal=TemporalOptions(mode="none"))
    report = render(src, dst, config)
    want, got = video_pts_seconds(src), video_pts_seconds(dst)
    half = float(np.diff(want).min()) / 2
    assert report.frames == len(want) == len(got)
    np.testing.assert_allclose(got, want, atol=half)

    # The frames: the same stylizer on the decoded input, compared through the codec.
    inputs = decoded_frames(src, SizePolicy(max_width=WIDTH))
    outputs = decoded_frames(dst)
    stylizer = make_stylizer(config.style, torch.device("cpu"), torch.bfloat16)
    device = torch.device("cpu")
    from flowstyle.io.frames import Frame

    for i in np.linspace(0, len(inputs) - 1, 5).astype(int):
        expected = through_yuv420p(tensor_to_rgb(stylizer(frame_to_tensor(Frame(0, 0, 1, inputs[i]), device))))
        assert outputs[i].shape == expected.shape == inputs[i].shape
        assert psnr(outputs[i], expected) > 32.0, f"frame {i} differs from the network output"
        assert psnr(outputs[i], inputs[i]) < 20.0, f"frame {i} is not stylized"


def test_bigbuckbunny_keeps_51_audio_and_timing(media: Path, tmp_path: Path) -> None:
    src = media / "videos" / "bigbuckbunny.mp4"
    dst = tmp_path / "bbb.mp4"
    check_render(src, dst, "blue-brush")
    with av.open(str(src)) as a, av.open(str(dst)) as b:
        ia, ib = a.streams.audio[0], b.streams.audio[0]
        assert (ib.codec_context.name, ib.codec_context.channels, ib.codec_context.sample_rate) == ("aac", 6, 48000)
        assert ib.codec_context.layout.name == ia.codec_context.layout.name == "5.1"
        # Copied packet for packet, not re-encoded.
        pa = [bytes(p) for p in a.demux(ia) if p.size]
        pb = [bytes(p) for p in b.demux(ib) if p.size]
        assert pa == pb
    assert abs(audio_duration(dst) - audio_duration(src)) < 0.02


def test_tree_avi_irregular_timestamps(media: Path, tmp_path: Path) -> None:
    """Cinepak in AVI with 68 coded frames over 29.6 s: a real variable-frame-rate case."""
    src = media / "videos" / "tree.avi"
    dst = tmp_path / "tree.mp4"
    check_render(src, dst, "3:0.6,17:0.4")
    times = video_pts_seconds(dst)
    assert len(times) == 68
    assert times[-1] == pytest.approx(video_pts_seconds(src)[-1], abs=0.034)
    gaps = np.diff(times)
    assert gaps.max() > 2 * gaps.min()  # still irregular (0.33 to 0.73 s): nothing was resampled to a fixed rate
