"""Streaming encode: RGB frames to H.264 with the input's timestamps, colours and audio.

PyAV facts this follows (docs/architecture.md, "Media facts"): libx264 with ``crf``/``preset``,
yuv420p with even sides; each output frame gets the pts/time_base of its source
frame; colour tags are copied; audio is remuxed packet for packet from a stream
created with ``add_stream_from_template``, skipping only empty packets (a
keyframe may have no dts). Audio is read by a second demuxer on the same file
and interleaved by time with the video, so memory does not grow with length.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from ..errors import ConfigError, OutputError
from .codecs import EncodeSpec, resolve
from .colour import ColourTags
from .depth import encode_frame
from .probe import open_container
from .timecode import Timecode, write_timecode

log = logging.getLogger(__name__)

# Audio is muxed ahead of the video by at most this many seconds.
AUDIO_LEAD = 1.0
PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")


@dataclass(frozen=True)
class EncodeOptions:
    """Encoder settings. ``crf`` 0-51 (lower is better; 18 is visually lossless for most) and
    ``preset`` apply to H.264/H.265; ``codec``, ``profile`` and ``pix_fmt`` (None: the default
    for the output's extension) are checked against the container by :func:`~flowstyle.io.codecs.resolve`
    when the output is opened, since the table needs the path."""

    crf: int = 18
    preset: str = "veryfast"
    threads: int = 0  # x264 and scaler threads; 0 lets libav choose (one per core)
    codec: str | None = None
    profile: str | None = None
    pix_fmt: str | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.crf <= 51:
            raise ConfigError("crf", f"must be 0 to 51, got {self.crf}")
        if self.preset not in PRESETS:
            raise ConfigError("preset", f"unknown x264 preset '{self.preset}'; use one of {', '.join(PRESETS)}")


def can_copy(source: Path, index: int, format_name: str) -> bool:
    """True if stream ``index`` of ``source`` can be stream-copied into ``format_name``.

    Asked of the muxer itself: header, one real packet and trailer are written
    into memory. The format's codec list is not enough (mp4 lists pcm_s16le, then
    fails when it writes the trailer).
    """
    try:
        with open_container(source) as src, av.open(io.BytesIO(), mode="w", format=format_name.split(",")[0]) as probe:
            stream = src.streams[index]
            out = probe.add_stream_from_template(stream)
            for packet in src.demux(stream):
                if packet.size:
                    packet.stream = out
                    probe.mux(packet)
                    break
        return True
    except (av.FFmpegError, ValueError):
        return False


class AudioCopier:
    """Copies (or, where the container cannot hold the codec, re-encodes to AAC) the audio of ``source``."""

    def __init__(self, source: Path, output: av.container.OutputContainer) -> None:
        self.input = open_container(source)
        self.output = output
        # A range render: only packets starting in [start, end) are kept, moved
        # back by ``start`` (cut at packet boundaries: one AAC packet is 21 ms at 48 kHz).
        self.start: float | None = None
        self.end: float | None = None
        self.pairs: dict[int, av.stream.Stream] = {}
        self.transcoders: dict[int, _AacTranscoder] = {}
        for s in self.input.streams:
            if s.type == "audio":
                codec = s.codec_context.name
                if can_copy(source, s.index, output.format.name):
                    self.pairs[s.index] = output.add_stream_from_template(s)
                else:
                    log.warning("%s: the %s container cannot hold %s audio; re-encoding stream #%d to AAC",
                                source, output.format.name, codec, s.index)
                    tc = _AacTranscoder(s, output)
                    self.transcoders[s.index] = tc
                    self.pairs[s.index] = tc.stream
            elif s.type != "video":
                log.info("%s: dropping %s stream #%d (%s); only video and audio are written",
                         source, s.type, s.index, s.codec_context.name if s.codec_context else "?")
        streams = [self.input.streams[i] for i in self.pairs]
        self._packets: Iterator[av.Packet] = self.input.demux(streams) if streams else iter(())
        self._pending: av.Packet | None = None

    def mux_until(self, seconds: float | None) -> None:
        """Mux audio packets whose time is before ``seconds`` (all remaining if None)."""
        while True:
            packet = self._pending or next(self._packets, None)
            self._pending = None
            if packet is None:
                return
            if packet.size == 0:  # demuxer flush marker, not data
                continue
            t = float(packet.pts * packet.time_base) if packet.pts is not None else None
            if seconds is not None and t is not None and t - (self.start or 0.0) > seconds:
                self._pending = packet
                return
            if self.start is not None and t is not None:
                if t < self.start - 1e-6:
                    continue
                if self.end is not None and t >= self.end - 1e-6:
                    continue
                shift = int(round(self.start / packet.time_base))
                packet.pts -= shift
                if packet.dts is not None:
                    packet.dts -= shift
            index = packet.stream.index
            if index in self.transcoders:
                self.transcoders[index].push(packet)
            else:
                packet.stream = self.pairs[index]
                self.output.mux(packet)

    def close(self) -> None:
        try:
            self.mux_until(None)
            for tc in self.transcoders.values():
                tc.flush()
        finally:
            self.input.close()


class _AacTranscoder:
    """Decode one audio stream and encode it to AAC (used only when a copy cannot be muxed)."""

    def __init__(self, stream: av.audio.stream.AudioStream, output: av.container.OutputContainer) -> None:
        self.src = stream
        self.output = output
        rate = stream.codec_context.sample_rate or 48000
        layout = stream.codec_context.layout.name
        if layout.endswith("channels"):  # unspecified order ("2 channels"): AAC needs a named layout
            layout = av.AudioLayout(f"{stream.codec_context.channels}c").name  # "2c" -> stereo
        self.stream = output.add_stream("aac", rate=rate, layout=layout)
        self.stream.format = "fltp"  # the only sample format libavcodec's AAC encoder takes
        self.resampler = av.AudioResampler(format="fltp", layout=layout, rate=rate)

    def push(self, packet: av.Packet) -> None:
        for frame in packet.decode():
            for out in self.resampler.resample(frame):
                self.output.mux(self.stream.encode(out))

    def flush(self) -> None:
        for out in self.resampler.resample(None):
            self.output.mux(self.stream.encode(out))
        self.output.mux(self.stream.encode(None))


MOVENC_FORMATS = {"mov", "mp4", "ipod", "ismv", "3gp", "3g2", "psp", "f4v"}  # libavformat's movenc.c muxers


def exact_movie_timescale(container: av.container.OutputContainer, time_base: Fraction) -> None:
    """Count a mov/mp4 output's edit list in the video's own timescale (before the header is written).

    mov/mp4 keep a stream's start offset in an edit list counted in the movie
    timescale, 1000 by default: a segment of a distributed render starting at
    0.5005 s (frame 15 at 29.97) read back 15 ticks early, and its join reported
    29.994 frames/s. In the stream's timescale the offset is exact.
    """
    if container.format.name in MOVENC_FORMATS and time_base.numerator == 1:
        container.options["movie_timescale"] = str(time_base.denominator)


class VideoWriter:
    """Write RGB frames (H x W x 3, uint8 or float32) with given pts to ``path`` + copied audio.

    Args:
        path: where to write (the caller makes it a temporary file; see io.atomic).
        size: (width, height), both even.
        time_base: the input video stream's time base; frame pts are in it.
        rate: the nominal frame rate (for the encoder's rate control and the
            container header); timing itself comes from the pts.
        colour: tags decoded from the input (matrix, range, primaries, transfer).
        audio_source: file whose audio streams are copied, or None.
        display_path: the name to use in error messages (the final output, not the temporary file).
        spec: codec, profile and pixel format (io/codecs.py); None: the default for the extension.
        timecode: the first frame's timecode, written on the video stream (a mov tmcd track).
        trim: start the output's clock at the first frame written and cut the audio to the
            frames written (a range render); False keeps the source's pts as they are.
    """

    def __init__(self, path: Path, size: tuple[int, int], time_base: Fraction, rate: Fraction | None,
                 colour: ColourTags, options: EncodeOptions = EncodeOptions(),
                 audio_source: Path | None = None, metadata: dict[str, str] | None = None,
                 display_path: Path | None = None, spec: EncodeSpec | None = None,
                 timecode: Timecode | None = None, trim: bool = False) -> None:
        width, height = size
        try:
            self.container = av.open(str(path), mode="w")
        except ValueError:  # libav knows no container for this extension
            raise OutputError(display_path or path, "unknown container extension; use .mp4, .mov or .mkv") from None
        except av.FFmpegError as exc:
            raise OutputError(display_path or path, f"cannot write this container ({exc})") from None
        try:
            # The codec table (io/codecs.py), not the muxer's codec list, decides what a container holds.
            self.spec = spec = spec or resolve(display_path or path, options.codec, options.profile, options.pix_fmt)
            spec.check_size(size, display_path or path)
            self.colour = colour
            self.time_base = time_base
            exact_movie_timescale(self.container, time_base)
            stream = self.container.add_stream(spec.encoder, rate=rate or Fraction(25))
            stream.width, stream.height = width, height
            stream.pix_fmt = spec.pix_fmt
            stream.time_base = time_base
            stream.codec_context.time_base = time_base
            stream.codec_context.thread_count = options.threads
            self.threads = options.threads
            rate_control = {"crf": str(options.crf), "preset": options.preset} if spec.rate_control else {}
            stream.options = {**dict(spec.options), **rate_control}
            cc = stream.codec_context
            cc.colorspace, cc.color_range = (0, 2) if spec.is_rgb else (colour.colorspace, colour.color_range)
            cc.color_primaries, cc.color_trc = colour.color_primaries, colour.color_trc
            self.stream = stream
            if timecode is not None:
                write_timecode(stream, timecode)
            copied = ("encoder", "major_brand", "minor_version", "compatible_brands") + (("timecode",) if timecode else ())
            for k, v in (metadata or {}).items():
                if k.lower() not in copied:
                    self.container.metadata[k] = v
            self.audio = AudioCopier(audio_source, self.container) if audio_source else None
        except BaseException:
            self.container.close()
            raise
        self.frames = 0
        self.trim = trim
        self.rate = rate
        self._origin: int | None = None  # pts of the first frame when trimming
        self._last_pts: int | None = None

    def write(self, rgb: np.ndarray, pts: int, alpha: np.ndarray | None = None) -> None:
        """Encode one frame shown at ``pts`` (in ``time_base`` units): uint8, or float32 in [0, 1] kept deep."""
        frame = encode_frame(rgb, self.spec.pix_fmt, self.colour, alpha, threads=self.threads)
        if self.trim:
            if self._origin is None:
                self._origin = pts
                if self.audio is not None:
                    self.audio.start = float(pts * self.time_base)
            self._last_pts = pts
            pts -= self._origin
        frame.pts = pts
        frame.time_base = self.time_base
        self._mux(self.stream.encode(frame))
        self.frames += 1

    def _mux(self, packets: list[av.Packet]) -> None:
        for packet in packets:
            if self.audio is not None and packet.pts is not None:
                # A range render's end is known only at close: no audio is muxed ahead of the video then.
                self.audio.mux_until(float(packet.pts * packet.time_base) + (0.0 if self.trim else AUDIO_LEAD))
            self.container.mux(packet)

    def close(self) -> None:
        """Flush the encoder, finish the audio and close the file."""
        try:
            self._mux(self.stream.encode(None))
            if self.audio is not None:
                if self.trim and self._last_pts is not None:
                    step = 1 / float(self.rate) if self.rate else 0.0
                    self.audio.end = float(self._last_pts * self.time_base) + step
                self.audio.close()
        finally:
            self.container.close()

    def abort(self) -> None:
        """Close without flushing (the caller deletes the file)."""
        try:
            if self.audio is not None:
                self.audio.input.close()
            self.container.close()
        except av.FFmpegError:
            pass
