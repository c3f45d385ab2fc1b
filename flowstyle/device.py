"""Resolve the compute device and numeric precision once, at the start of a run.

docs/architecture.md, "Conventions": ``auto`` means CUDA when present, else CPU; every later
tensor is created on the device of the data it meets, never on a global.
"""

from __future__ import annotations

import logging

import torch

from .cpu import cpu_info
from .errors import DeviceError

log = logging.getLogger(__name__)

DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("auto", "fp32", "bf16", "fp16", "int8")
# ``int8`` resolves to this marker dtype: the network stays a float32 module whose
# convolutions run in int8 (flowstyle.models.quantize, docs/int8.md).
INT8 = torch.qint8


def resolve_device(name: str = "auto") -> torch.device:
    """Map ``auto|cpu|cuda[:N]`` to a :class:`torch.device`, failing clearly if absent."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise DeviceError(f"device '{name}' requested but this torch build sees no CUDA GPU; use --device cpu")
        return torch.device(name)
    raise DeviceError(f"unknown device '{name}'; use one of {', '.join(DEVICES)}")


def cpu_has_fast_bf16() -> bool:
    """True when bf16 convolutions run natively here (AVX512-BF16 or AMX, torch at AVX-512).

    Without those instructions bf16 is emulated and slower than fp32; a torch capability
    lowered to AVX2 (``ATEN_CPU_CAPABILITY=avx2``) counts as without, see
    :attr:`flowstyle.cpu.CpuInfo.native_bf16`.
    """
    return cpu_info().native_bf16


def precision_name(dtype: torch.dtype) -> str:
    """How a resolved precision is written for people: ``int8`` for :data:`INT8`, else the dtype (``bfloat16``)."""
    return "int8" if dtype == INT8 else str(dtype).removeprefix("torch.")


def no_int8_path(device: torch.device) -> str | None:
    """Why the int8 path cannot run on ``device`` (None when it can).

    It is oneDNN's x86 int8 convolution: a CPU with at least AVX2, in a torch built with oneDNN.
    """
    if device.type != "cpu":
        return f"there is no int8 path on {device.type}"
    if "avx2" not in cpu_info().flags:
        return "there is no int8 path on this CPU (it needs an x86 CPU with AVX2)"
    if not (torch.backends.mkldnn.is_available() and hasattr(torch.ops.onednn, "qconv2d_pointwise")):
        return "this torch build has no oneDNN int8 convolution"
    return None


def resolve_precision(name: str, device: torch.device, strict: bool = False) -> torch.dtype:
    """Choose the network dtype: ``auto`` is fp16 on CUDA, bf16 on CPUs with native bf16,
    else fp32; ``int8`` (:data:`INT8`) runs where there is an int8 path.

    Reduced precision is only the default where it stays within 35 dB PSNR of fp32
    on real frames (measured in scripts/bench_render.py, scripts/bench_int8.py and
    tests/test_weights.py); int8 is also checked per network and style when it is
    calibrated, and a network that misses the bar runs fp32
    (:func:`flowstyle.stylize.int8.to_int8`).

    ``int8`` where there is no int8 path falls back to what ``auto`` would choose
    without it, saying so in one line; with ``strict`` it is an error instead.
    """
    if name == "int8":
        why = no_int8_path(device)
        if why is None:
            return INT8
        if strict:
            raise DeviceError(f"--precision int8: {why}; use --precision auto or fp32")
        chosen = _auto_float(device)
        log.warning("--precision int8: %s; using %s instead", why, precision_name(chosen))
        return chosen
    if name == "fp32":
        return torch.float32
    if name == "bf16":
        return torch.bfloat16
    if name == "fp16":
        if device.type != "cuda":
            raise DeviceError("fp16 is only supported on CUDA; use --precision bf16 or fp32 on CPU")
        return torch.float16
    if name != "auto":
        raise DeviceError(f"unknown precision '{name}'; use one of {', '.join(PRECISIONS)}")
    # Not int8 on AVX2 yet (docs/int8.md): measured only 1.13-1.40x fp32 there, below the
    # 1.8x bar, its first use costs a calibration per style, and a distributed
    # render's in-shot seams measured 1.25x mid-shot E_warp with it (1.2x allowed).
    # --precision int8 runs it; auto will pick it once it clears the speed bar.
    return _auto_float(device)


def _auto_float(device: torch.device) -> torch.dtype:
    """``auto`` without int8: fp16 on CUDA, bf16 where native on the CPU, else fp32."""
    if device.type == "cuda":
        return torch.float16
    return torch.bfloat16 if cpu_has_fast_bf16() else torch.float32


def loss_network_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """Autocast dtype of the loss network, None for float32.

    ``auto`` is bf16 where it is native (CPUs with AVX512-BF16/AMX, CUDA GPUs that
    support it) and float32 elsewhere; ``precision`` is one of :data:`PRECISIONS`.
    """
    if precision == "fp32":
        return None
    if precision == "bf16":
        return torch.bfloat16
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else None
    return torch.bfloat16 if cpu_has_fast_bf16() else None
