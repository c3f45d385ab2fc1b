"""Output video formats by name: codec, profile and pixel format, chosen by extension.

A table in the style of whisper's ``get_writer`` (writers by name): each
:class:`VideoCodec` says which libav encoder writes it, the profiles it takes
(each with the pixel formats it can carry, its default first) and the
containers that can hold it. :func:`resolve` turns ``--codec/--profile/--pix-fmt``
and the output's extension into one :class:`EncodeSpec`, or one line naming the
file and the problem. Verified with PyAV 18.1 by tests/test_codecs.py and
scripts/bench_io.py: every profile in the table encodes and reads back with the
profile and pixel format asked for.

The table, not the muxer's ``supported_codecs``, decides what a container can
hold: libavformat can only list codecs for muxers with a codec-tag table, so
mpegts and mxf list none of H.264, H.265 or DNxHR although they carry them
(``-o out.ts`` used to be refused for that reason).

Defaults by extension (the README's table):

=======================  =========  ==============  ==============
extension                codec      profile         pixel format
=======================  =========  ==============  ==============
.mp4 .m4v .mov .mkv .ts  h264       high            yuv420p
.mxf                     dnxhr      dnxhr_hq        yuv422p
=======================  =========  ==============  ==============
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av

from ..errors import OutputError
from .depth import bit_depth, has_alpha

# Container by extension: the libav muxer name, for messages and checks.
CONTAINERS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".ts": "mpegts", ".mxf": "mxf"}


@dataclass(frozen=True)
class Profile:
    """One encoder profile.

    Attributes:
        name: what ``--profile`` takes.
        option: the encoder's ``profile`` option value (None: the encoder has no such option).
        pix_fmts: pixel formats this profile carries; the first is the default.
        reported: what a decoder reports as ``codec_context.profile`` on read-back
            (None where the decoder reports none, as for FFV1).
    """

    name: str
    option: str | None
    pix_fmts: tuple[str, ...]
    reported: str | None


@dataclass(frozen=True)
class VideoCodec:
    """One output codec: its encoder, profiles (default first) and the containers that hold it."""

    name: str
    label: str
    encoder: str
    decoder: str
    profiles: tuple[Profile, ...]
    extensions: tuple[str, ...]
    options: tuple[tuple[str, str], ...] = ()
    rate_control: bool = False  # takes --crf/--preset (x264, x265)
    min_size: tuple[int, int] = (2, 2)

    def profile(self, name: str) -> Profile | None:
        return next((p for p in self.profiles if p.name == name), None)

    @property
    def pix_fmts(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(f for p in self.profiles for f in p.pix_fmts))


_X265_QUIET = ("x265-params", "log-level=error")  # x265 prints its banner on stderr otherwise

CODECS: dict[str, VideoCodec] = {c.name: c for c in (
    # x264 derives its profile from the pixel format (and from --crf 0, lossless: High 4:4:4
    # Predictive, which an explicit "high" would refuse), so no profile option is passed.
    VideoCodec("h264", "H.264", "libx264", "h264", (
        Profile("high", None, ("yuv420p",), "High"),
        Profile("high10", None, ("yuv420p10le",), "High 10"),
        Profile("high422", None, ("yuv422p10le", "yuv422p"), "High 4:2:2"),
        Profile("high444", None, ("yuv444p10le", "yuv444p"), "High 4:4:4 Predictive"),
    ), (".mp4", ".m4v", ".mov", ".mkv", ".ts"), rate_control=True),
    VideoCodec("h265", "H.265", "libx265", "hevc", (
        Profile("main10", "main10", ("yuv420p10le",), "Main 10"),
        Profile("main", "main", ("yuv420p",), "Main"),
        Profile("main422-10", "main422-10", ("yuv422p10le",), "Rext"),
        Profile("main444-10", "main444-10", ("yuv444p10le",), "Rext"),
    ), (".mp4", ".m4v", ".mov", ".mkv", ".ts"), options=(_X265_QUIET,), rate_control=True),
    # prores_ks: the 4444 profiles carry alpha in yuva444p10le (the decoder gives it back as 12-bit).
    VideoCodec("prores", "ProRes", "prores_ks", "prores", (
        Profile("hq", "hq", ("yuv422p10le",), "HQ"),
        Profile("proxy", "proxy", ("yuv422p10le",), "Proxy"),
        Profile("lt", "lt", ("yuv422p10le",), "LT"),
        Profile("standard", "standard", ("yuv422p10le",), "Standard"),
        Profile("4444", "4444", ("yuv444p10le", "yuva444p10le"), "4444"),
        Profile("4444xq", "4444xq", ("yuv444p10le", "yuva444p10le"), "XQ"),
    ), (".mov",)),
    # DNxHR needs at least 256x120 ("Input dimensions too small" from libavcodec otherwise).
    VideoCodec("dnxhr", "DNxHR", "dnxhd", "dnxhd", (
        Profile("dnxhr_hq", "dnxhr_hq", ("yuv422p",), "DNXHR HQ"),
        Profile("dnxhr_lb", "dnxhr_lb", ("yuv422p",), "DNXHR LB"),
        Profile("dnxhr_sq", "dnxhr_sq", ("yuv422p",), "DNXHR SQ"),
        Profile("dnxhr_hqx", "dnxhr_hqx", ("yuv422p10le",), "DNXHR HQX"),
        Profile("dnxhr_444", "dnxhr_444", ("yuv444p10le",), "DNXHR 444"),
    ), (".mov", ".mxf"), min_size=(256, 120)),
    # FFV1 version 3 with slice CRCs and intra-only GOPs: the archival settings.
    # 10-bit planar RGB by default: lossless for what the pipeline produces, no matrix round trip.
    VideoCodec("ffv1", "FFV1", "ffv1", "ffv1", (
        Profile("lossless", None, ("gbrp10le", "gbrp12le", "gbrp16le", "gbrap10le", "gbrap16le", "yuv420p",
                                   "yuv422p10le", "yuv444p10le", "yuva444p10le"), None),
    ), (".mkv",), options=(("level", "3"), ("slicecrc", "1"), ("g", "1"))),
)}

ALIASES = {"x264": "h264", "avc": "h264", "hevc": "h265", "x265": "h265", "prores_ks": "prores",
           "dnxhd": "dnxhr", "dnxhr": "dnxhr"}
DEFAULT_CODEC = {".mp4": "h264", ".m4v": "h264", ".mov": "h264", ".mkv": "h264", ".ts": "h264", ".mxf": "dnxhr"}


@dataclass(frozen=True)
class EncodeSpec:
    """Everything needed to open the output video stream; pure data (JSON-able)."""

    codec: str
    encoder: str
    profile: str
    pix_fmt: str
    options: tuple[tuple[str, str], ...]
    rate_control: bool
    min_size: tuple[int, int]

    @property
    def format(self) -> av.VideoFormat:
        return av.VideoFormat(self.pix_fmt)

    @property
    def bit_depth(self) -> int:
        return bit_depth(self.pix_fmt)

    @property
    def has_alpha(self) -> bool:
        return has_alpha(self.pix_fmt)

    @property
    def is_rgb(self) -> bool:
        return self.pix_fmt.startswith("gbr")

    def check_size(self, size: tuple[int, int], path: str | Path) -> None:
        """Refuse a frame size this codec cannot encode (one line naming the output)."""
        (w, h), (mw, mh) = size, self.min_size
        if w < mw or h < mh:
            raise OutputError(path, f"{CODECS[self.codec].label} needs frames of at least {mw}x{mh}, got {w}x{h}; "
                              "use --width or another --codec")
        fmt = self.format
        if (fmt.chroma_width(4) < 4 and w % 2) or (fmt.chroma_height(4) < 4 and h % 2):
            raise OutputError(path, f"{self.pix_fmt} needs even sides, got {w}x{h}")


def _one_of(names: list[str] | tuple[str, ...]) -> str:
    return ", ".join(names)


def resolve(path: str | Path, codec: str | None = None, profile: str | None = None,
            pix_fmt: str | None = None) -> EncodeSpec:
    """The encode settings for ``path``: ``--codec/--profile/--pix-fmt`` checked against the container.

    Unset choices take defaults: the codec from the extension (:data:`DEFAULT_CODEC`),
    the profile from the pixel format if one is given (the first profile that carries
    it), else the codec's first profile and its first pixel format.

    Raises:
        OutputError: one line naming ``path`` and the problem (unknown codec, profile or
            pixel format, or a codec the container cannot hold).
    """
    ext = Path(path).suffix.lower()
    if codec is None:
        if ext not in DEFAULT_CODEC:
            if ext[1:] not in av.formats_available:  # not a container libav knows by this name (.xyz)
                raise OutputError(path, f"unknown container extension '{ext}'; use {_one_of(list(DEFAULT_CODEC))}")
            raise OutputError(path, f"the {ext or 'extension-less'} container cannot hold H.264 video; "
                              f"use {_one_of(list(DEFAULT_CODEC))}")
        codec = DEFAULT_CODEC[ext]
    key = ALIASES.get(codec.lower(), codec.lower())
    if key not in CODECS:
        raise OutputError(path, f"unknown --codec '{codec}'; use one of {_one_of(list(CODECS))}")
    vc = CODECS[key]
    if ext not in vc.extensions:
        raise OutputError(path, f"the {ext or 'extension-less'} container cannot hold {vc.label} video; "
                          f"use {_one_of(vc.extensions)}")
    if profile is not None:
        prof = vc.profile(profile.lower())
        if prof is None:
            raise OutputError(path, f"{vc.label} has no profile '{profile}'; use one of "
                              f"{_one_of([p.name for p in vc.profiles])}")
        if pix_fmt is not None and pix_fmt not in prof.pix_fmts:
            raise OutputError(path, f"{vc.label} profile {prof.name} cannot carry --pix-fmt {pix_fmt}; "
                              f"use one of {_one_of(prof.pix_fmts)}")
    elif pix_fmt is not None:
        prof = next((p for p in vc.profiles if pix_fmt in p.pix_fmts), None)
        if prof is None:
            raise OutputError(path, f"{vc.label} cannot carry --pix-fmt {pix_fmt}; use one of {_one_of(vc.pix_fmts)}")
    else:
        prof = vc.profiles[0]
    chosen = pix_fmt or prof.pix_fmts[0]
    options = vc.options + ((("profile", prof.option),) if prof.option else ())
    return EncodeSpec(codec=vc.name, encoder=vc.encoder, profile=prof.name, pix_fmt=chosen, options=options,
                      rate_control=vc.rate_control, min_size=vc.min_size)


def reported_profile(spec: EncodeSpec) -> str | None:
    """What a decoder reports as the profile of a stream written with ``spec``."""
    prof = CODECS[spec.codec].profile(spec.profile)
    return prof.reported if prof else None


def decoder_name(spec: EncodeSpec) -> str:
    """The codec name a decoder reports for a stream written with ``spec`` (``hevc`` for libx265)."""
    return CODECS[spec.codec].decoder
