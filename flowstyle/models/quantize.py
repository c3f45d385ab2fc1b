"""int8 convolutions for the feed-forward networks on x86 CPUs (docs/int8.md).

What is quantised, and why only that:
- Every convolution of the multi-style and arbitrary transformer networks runs in
  int8 on oneDNN's x86 kernel (``torch.ops.onednn.qconv2d_pointwise``, the kernel
  PyTorch's PT2E ``X86InductorQuantizer`` lowers to): uint8 activations per tensor,
  int8 weights per output channel, and a **float32 output**. The float output is
  the point: the (conditional) instance norms, the residual adds and the sigmoid
  stay float, so nothing but each conv's input is rounded. Re-quantising the conv
  outputs as well (FX graph mode with fbgemm, tried first) cost 12 dB: 30 dB worst
  frame on bigbuckbunny against 41.8 dB here, because a conv's output range before
  the instance norm depends on the content, while its input (a normalised, styled
  map) does not.
- Weights use 8 bits (-127..127) where oneDNN's int8 kernel accumulates exactly
  (VNNI, AMX), and 7 bits (-63..63) where it does not. Without VNNI the int8 dot
  product (``vpmaddubsw``) adds pairs of u8 x s8 products into int16, which
  saturates with 8-bit weights (measured under ``ONEDNN_MAX_CPU_ISA=AVX2``: 18 dB
  against fp32); with 7 bits it cannot (2 x 255 x 63 < 32767). Which case applies is
  not guessed from CPU flags but measured once (:func:`weight_qmax`), since
  ``ONEDNN_MAX_CPU_ISA`` or a hypervisor can hide VNNI from oneDNN. The extra bit
  matters: the arbitrary network ships int8 weights (its ONNX graph is QDQ), which
  8 bits reproduce exactly; at 7 bits its first conv alone cost 31.4 dB worst frame
  on bikes.mp4, and the whole network 29.8 dB against 35.7 dB at 8 bits (udnie).
  Results therefore differ between the two kinds of CPU; each is measured against
  fp32, never against the other (DESIGN.md section 6).
- Activation ranges are calibrated once on real frames with torch.ao's
  ``MinMaxObserver`` (min/max of each conv's input over the calibration frames).

A network is quantised in place: each 4-D conv weight parameter is replaced by an
:class:`Int8Conv`, which :func:`flowstyle.models.layers.reflect_conv` calls instead
of ``F.conv2d``; the networks' own ``forward`` is unchanged.

The calibration (qparams, int8 weights, the quality measured against float) is
cached on disk keyed on the float network's weights and style (sha256), and checked
against the torch version and CPU kind it was made with: a cache from another torch
or another kind of CPU is rebuilt, not trusted.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.ao.quantization.observer import MinMaxObserver

from ..cpu import cpu_info
from ..io.atomic import atomic_save
from .layers import PLAIN, form_input, form_output

log = logging.getLogger(__name__)

FORMAT = 2  # bumped when what the cache holds changes (2: 8-bit weights where they are exact)
CL = torch.channels_last


def cpu_kind() -> str:
    """What the int8 kernels depend on: the CPU flags, torch's capability and oneDNN's ISA limit."""
    info = cpu_info()
    return f"{' '.join(info.flags)} | {info.torch_capability} | onednn max isa {os.environ.get('ONEDNN_MAX_CPU_ISA', 'ALL')}"


@functools.lru_cache(maxsize=1)
def weight_qmax() -> int:
    """127 (8-bit weights) where oneDNN's int8 convolution sums u8 x s8 products exactly, else 63.

    Measured with one 1x1 conv whose exact result (4 x 255 x 127 = 129540) needs more than
    int16 for a pair of products: a kernel that adds pairs in int16 returns 65534.
    """
    scale = torch.ones(1, dtype=torch.float64)
    weight = torch.full((1, 4, 1, 1), 127, dtype=torch.int8).contiguous(memory_format=CL)
    packed = torch.ops.onednn.qconv_prepack(weight, scale, 1.0, 0, [1, 1], [0, 0], [1, 1], 1, None)
    x = torch.full((1, 4, 1, 1), 255, dtype=torch.uint8).contiguous(memory_format=CL)
    y = torch.ops.onednn.qconv2d_pointwise(x, 1.0, 0, packed, scale, torch.zeros(1, dtype=torch.int64), None,
                                           [1, 1], [0, 0], [1, 1], 1, 1.0, 0, torch.float32, "none", [], "")
    exact = float(y.flatten()[0]) == 4 * 255 * 127
    log.debug("oneDNN int8 convolution %s: %d-bit weights", "exact" if exact else "saturates in int16", 8 if exact else 7)
    return 127 if exact else 63


def _quantize_uint8(x: Tensor, scale: float, zero_point: int) -> Tensor:
    """``x`` rounded to uint8 (one vectorised pass), as a plain uint8 tensor in ``x``'s layout.

    ``torch.quantize_per_tensor`` is the fast kernel (0.5 ms for 32x180x320; the same
    arithmetic in float ops costs 8 ms); its bytes are read as plain uint8 through the
    storage, without ``int_repr``'s copy, because oneDNN's kernel takes uint8.
    """
    with warnings.catch_warnings():  # quantized tensor types are deprecated; only the kernel is used here
        warnings.simplefilter("ignore")
        q = torch.quantize_per_tensor(x, scale, zero_point, torch.quint8)
    return torch.empty(0, dtype=torch.uint8).set_(q.untyped_storage(), q.storage_offset(), q.shape, q.stride())


@dataclass(frozen=True)
class ConvCalibration:
    """Everything needed to build one int8 conv: the int8 weights and both quantisations."""

    qweight: Tensor  # int8 (Cout, Cin, k, k), values in [-weight_qmax(), weight_qmax()]
    weight_scale: Tensor  # float64 (Cout,)
    input_scale: float
    input_zero_point: int


class Int8Conv:
    """A convolution with uint8 input, int8 weights and float32 output (oneDNN).

    Called by :func:`flowstyle.models.layers.reflect_conv` in place of the float
    weight, with the same arguments: optional nearest x2 upsampling, reflect padding
    of ``kernel // 2``, then the conv. The padding is done on the uint8 map (a quarter
    of the bytes of the float one).
    """

    dtype = torch.float32  # what the surrounding float layers compute in

    def __init__(self, cal: ConvCalibration, stride: int) -> None:
        self.cal = cal
        self.stride = stride
        self.kernel = cal.qweight.shape[-1]
        self.out_channels = cal.qweight.shape[0]
        self._wzp = torch.zeros(self.out_channels, dtype=torch.int64)
        self._packed = torch.ops.onednn.qconv_prepack(
            cal.qweight.contiguous(memory_format=CL), cal.weight_scale, cal.input_scale, cal.input_zero_point,
            [stride, stride], [0, 0], [1, 1], 1, None)

    @property
    def device(self) -> torch.device:
        return torch.device("cpu")

    @property
    def shape(self) -> torch.Size:
        return self.cal.qweight.shape

    def __call__(self, x: Tensor, bias: Tensor | None, stride: int, upsample: bool) -> Tensor:
        if upsample:
            x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        q = _quantize_uint8(x.float().contiguous(memory_format=CL), self.cal.input_scale, self.cal.input_zero_point)
        # The plain form only: the float layers' faster forms (layers.conv_form) measured no
        # faster in int8 (ABBA, one thread, AVX2 and VNNI, within the +-15% noise), and they
        # would change what is calibrated.
        q = form_input(q, PLAIN, self.kernel, upsample, upsampled=True)
        y = torch.ops.onednn.qconv2d_pointwise(
            q, self.cal.input_scale, self.cal.input_zero_point, self._packed, self.cal.weight_scale, self._wzp,
            None if bias is None else bias.float(), [stride, stride], [0, 0], [1, 1], 1, 1.0, 0, torch.float32,
            "none", [], "")
        return form_output(y, PLAIN)  # the float path's memory-format rule


class RangeObserver:
    """Stands in for a conv weight during calibration: records the conv's input range, runs the float conv."""

    def __init__(self, weight: Tensor) -> None:
        self.weight = weight
        self.observer = MinMaxObserver(dtype=torch.quint8, qscheme=torch.per_tensor_affine)
        self.dtype = weight.dtype
        self.device = weight.device
        self.shape = weight.shape

    def __call__(self, x: Tensor, bias: Tensor | None, stride: int, upsample: bool) -> Tensor:
        from .layers import reflect_conv

        self.observer(x.float())  # nearest upsampling and reflect padding keep the range
        return reflect_conv(x, self.weight, bias, stride, upsample)


def conv_weights(net: nn.Module) -> dict[str, tuple[nn.Module, str]]:
    """Every 4-D weight (the convolutions) of ``net`` as ``qualified name -> (owner module, attribute)``."""
    found = {}
    for mod_name, module in net.named_modules():
        for attr, p in module.named_parameters(recurse=False):
            if p.dim() == 4:
                found[f"{mod_name}.{attr}" if mod_name else attr] = (module, attr)
    return found


def _stride_of(module: nn.Module) -> int:
    stride = getattr(module, "stride", 1)
    return int(stride[0] if isinstance(stride, tuple) else stride)


def _swap(module: nn.Module, attr: str, value: object) -> None:
    """Replace parameter ``attr`` of ``module`` by a plain attribute (an observer or an int8 conv)."""
    if attr in module._parameters:
        del module._parameters[attr]
    object.__setattr__(module, attr, value)


def calibrate(net: nn.Module, run: Callable[[nn.Module, Tensor], Tensor], frames: Iterable[Tensor]) -> dict[str, ConvCalibration]:
    """Observe every conv input of float32 ``net`` while ``run(net, frame)`` stylizes ``frames``.

    ``net`` is left as it was (its float weights put back).
    """
    convs = conv_weights(net)
    observers = {name: RangeObserver(getattr(m, attr)) for name, (m, attr) in convs.items()}
    for name, (m, attr) in convs.items():
        _swap(m, attr, observers[name])
    try:
        with torch.inference_mode():
            for frame in frames:
                run(net, frame)
    finally:
        restore_float(net, {name: obs.weight for name, obs in observers.items()})
    out = {}
    qmax = weight_qmax()
    for name, obs in observers.items():
        w = obs.weight.detach().float().contiguous()
        scale, zp = obs.observer.calculate_qparams()
        w_scale = (w.abs().amax(dim=(1, 2, 3)) / qmax).clamp_min(1e-12).double()
        qw = torch.round(w / w_scale[:, None, None, None].float()).clamp_(-qmax, qmax).to(torch.int8)
        out[name] = ConvCalibration(qw, w_scale, float(scale), int(zp))
    return out


def apply_int8(net: nn.Module, calibration: dict[str, ConvCalibration]) -> nn.Module:
    """Replace ``net``'s conv weights by :class:`Int8Conv` built from ``calibration``; returns ``net`` (float32, CPU)."""
    net.to(device="cpu", dtype=torch.float32, memory_format=CL)
    for name, (m, attr) in conv_weights(net).items():
        _swap(m, attr, Int8Conv(calibration[name], _stride_of(m)))
    return net


def network_sha256(net: nn.Module, extra: Iterable[Tensor] = ()) -> str:
    """sha256 of ``net``'s float state (names, shapes, bytes) and of ``extra`` tensors (the style)."""
    h = hashlib.sha256()
    for key, value in sorted(net.state_dict().items()):
        h.update(key.encode())
        h.update(str(tuple(value.shape)).encode())
        h.update(value.detach().float().cpu().contiguous().numpy().tobytes())
    for t in extra:
        h.update(t.detach().float().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


@dataclass(frozen=True)
class CacheKey:
    """What a cached calibration is valid for."""

    network: str  # sha256 of the float weights and the style
    calibration: str  # sha256 of the calibration frames
    torch_version: str
    cpu: str

    @property
    def file_name(self) -> str:
        # Named by what was calibrated only: a cache from another torch or CPU is found, reported and rebuilt.
        return hashlib.sha256(f"{self.network}:{self.calibration}".encode()).hexdigest()[:32] + ".pt"


def current_key(network: str, calibration: str) -> CacheKey:
    return CacheKey(network, calibration, str(torch.__version__), cpu_kind())


def save_calibration(path: Path, key: CacheKey, calibration: dict[str, ConvCalibration], psnr: float) -> None:
    payload = {
        "format": FORMAT, "key": key.__dict__, "psnr": psnr,
        "convs": {n: {"qweight": c.qweight, "weight_scale": c.weight_scale, "input_scale": c.input_scale,
                      "input_zero_point": c.input_zero_point} for n, c in calibration.items()},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_save(lambda tmp: torch.save(payload, tmp), path)


def read_calibration(path: Path) -> tuple[CacheKey, dict[str, ConvCalibration], float]:
    """What a cache file holds: the key it was made for, the calibration, the measured PSNR."""
    payload = torch.load(path, map_location="cpu", weights_only=True)
    if payload.get("format") != FORMAT:
        raise ValueError(f"format {payload.get('format')}")
    convs = {n: ConvCalibration(c["qweight"], c["weight_scale"], float(c["input_scale"]), int(c["input_zero_point"]))
             for n, c in payload["convs"].items()}
    return CacheKey(**payload["key"]), convs, float(payload["psnr"])


def load_calibration(path: Path, key: CacheKey) -> tuple[dict[str, ConvCalibration], float] | None:
    """The cached calibration at ``path`` if it was made for ``key``; None (with the reason logged) otherwise."""
    if not path.is_file():
        return None
    try:
        stored, convs, quality = read_calibration(path)
    except Exception as exc:  # truncated or foreign file: rebuild
        log.info("%s: int8 calibration cache unreadable (%s: %s); calibrating again", path, type(exc).__name__,
                 str(exc).splitlines()[0] if str(exc) else "")
        return None
    if stored != key:
        what = "torch " + stored.torch_version if stored.torch_version != key.torch_version else f"CPU kind '{stored.cpu}'"
        log.info("%s: int8 calibration cache made with %s, not this one; calibrating again", path, what)
        return None
    return convs, quality


def psnr(a: Tensor, b: Tensor) -> float:
    """PSNR in dB of two images in [0, 1]."""
    mse = torch.mean((a.double() - b.double()) ** 2).item()
    return float("inf") if mse == 0 else 10.0 * torch.log10(torch.tensor(1.0 / mse)).item()


def restore_float(net: nn.Module, weights: dict[str, nn.Parameter]) -> nn.Module:
    """Put the float conv ``weights`` (from :func:`conv_weights`' names) back in place of their stand-ins."""
    for name, weight in weights.items():
        module_name, _, attr = name.rpartition(".")
        module = net.get_submodule(module_name)
        module.__dict__.pop(attr, None)
        module.register_parameter(attr, weight)
    return net


def quantize(net: nn.Module, run: Callable[[nn.Module, Tensor], Tensor], frames: Callable[[], list[Tensor]],
             calibration_id: str, cache_dir: Path, extra: Iterable[Tensor] = (),
             min_psnr: float = 0.0) -> tuple[nn.Module, float]:
    """``net`` (float32, CPU) with int8 convolutions, and its worst-frame PSNR against float on ``frames``.

    Args:
        net: the float network, quantised in place.
        run: ``run(net, frame) -> stylized`` with the style the render uses (it decides the
            activation ranges after each norm).
        frames: gives real frames (1, 3, H, W) in [0, 1]: calibration and quality check
            (called only when the cache cannot serve).
        calibration_id: identifies those frames in the cache key (e.g. the clip's sha256).
        cache_dir: where calibrations are kept.
        extra: tensors that, with the weights, identify the style (style weights, norm params).
        min_psnr: below this worst-frame PSNR the int8 convolutions are not used: ``net``
            comes back float.
    """
    key = current_key(network_sha256(net, extra), calibration_id)
    path = cache_dir / key.file_name
    floats = {name: getattr(m, attr) for name, (m, attr) in conv_weights(net).items()}
    cached = load_calibration(path, key)
    if cached is not None:
        calibration, quality = cached
        log.debug("int8 calibration from the cache %s (worst frame %.1f dB against fp32)", path, quality)
        return (apply_int8(net, calibration) if quality >= min_psnr else net), quality
    real = frames()
    with torch.inference_mode():
        reference = [run(net, f).clone() for f in real]
    calibration = calibrate(net, run, real)
    apply_int8(net, calibration)
    with torch.inference_mode():
        quality = min(psnr(run(net, f), ref) for f, ref in zip(real, reference))
    save_calibration(path, key, calibration, quality)
    log.info("int8 network calibrated on %d frames: worst frame %.1f dB against fp32 (cached in %s)",
             len(real), quality, path)
    return (net if quality >= min_psnr else restore_float(net, floats)), quality
