"""The finisher: join segment files by stream copy and copy the source's audio once.

No re-encode: every video packet of every segment is muxed as it is. Segments
carry the pts of their source frames, so joined in order the pts run on without
a gap or an overlap; each segment starts on a keyframe with a closed GOP, so the
joined stream decodes as one. The audio is remuxed from the source by the same
:class:`~flowstyle.io.writer.AudioCopier` as the in-process writer, interleaved
by time. The output appears only when complete (:func:`flowstyle.io.atomic.atomic_output`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import av

from ..errors import OutputError
from ..io.atomic import atomic_output
from ..io.probe import open_container
from ..io.writer import AUDIO_LEAD, AudioCopier, exact_movie_timescale

log = logging.getLogger(__name__)


def join(segments: Sequence[Path], output: Path, audio_from: Path | None = None) -> int:
    """Write ``segments`` (in order) as one video stream to ``output``, with ``audio_from``'s audio; return packets."""
    if not segments:
        raise OutputError(output, "no segments to join")
    packets = 0
    with atomic_output(output) as tmp:
        try:
            with open_container(segments[0]) as first, av.open(str(tmp), mode="w") as out:
                template = first.streams.video[0]
                stream = out.add_stream_from_template(template)
                stream.time_base = template.time_base
                exact_movie_timescale(out, template.time_base)
                for k, v in first.metadata.items():
                    if k.lower() not in ("encoder", "major_brand", "minor_version", "compatible_brands"):
                        out.metadata[k] = v
                if "timecode" in template.metadata:  # the first segment's is the source's start timecode
                    # mov's tmcd track counts in the stream's frame rate, which a stream made from a
                    # template lacks (the trailer fails with EINVAL without it).
                    stream.codec_context.framerate = template.average_rate
                    stream.metadata["timecode"] = template.metadata["timecode"]
                audio = AudioCopier(audio_from, out) if audio_from is not None else None
                last_dts: int | None = None
                for path in segments:
                    with open_container(path) as seg:
                        for packet in seg.demux(seg.streams.video[0]):
                            if packet.size == 0 or packet.dts is None:
                                continue  # demuxer flush marker
                            if audio is not None and packet.pts is not None:
                                audio.mux_until(float(packet.pts * packet.time_base) + AUDIO_LEAD)
                            dts = packet.dts
                            if last_dts is not None and dts <= last_dts:
                                # x264 starts each file's dts one reorder delay before its first pts, and
                                # after uneven pts (a loop, VFR) that can reach into the previous segment:
                                # move it just past, which stays valid while dts <= pts.
                                dts = last_dts + 1
                                if packet.pts is not None and dts > packet.pts:
                                    raise OutputError(path, f"segment overlaps the one before it (dts {packet.dts} "
                                                            f"<= {last_dts})")
                                packet.dts = dts
                            last_dts = dts
                            packet.stream = stream
                            out.mux(packet)
                            packets += 1
                if audio is not None:
                    audio.close()
        except av.FFmpegError as exc:
            raise OutputError(output, f"cannot join the segments ({exc})") from None
    return packets
