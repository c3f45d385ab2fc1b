"""Real clips cut for benchmarks: a frame range, resized, stored losslessly, timing kept."""

from __future__ import annotations

from pathlib import Path

import av

from flowstyle.io.reader import SizePolicy, VideoReader


def cut_clip(src: Path, dst: Path, first: int, end: int, size: SizePolicy) -> Path:
    """Frames [first, end) of ``src`` resized by ``size``, losslessly (RGB H.264, qp 0), timing kept."""
    with VideoReader(src, size) as reader, av.open(str(dst), "w") as out:
        s = out.add_stream("libx264rgb", rate=reader.rate)
        s.width, s.height = reader.size
        s.pix_fmt, s.time_base = "rgb24", reader.time_base
        s.options = {"qp": "0"}
        start = None
        for f in reader:
            if first <= f.index < end:
                start = f.pts if start is None else start  # the cut starts at time 0
                vf = av.VideoFrame.from_ndarray(f.rgb, format="rgb24")
                vf.pts, vf.time_base = f.pts - start, reader.time_base
                out.mux(s.encode(vf))
        out.mux(s.encode(None))
    return dst
