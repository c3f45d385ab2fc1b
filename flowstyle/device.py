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
PRECISIONS = ("auto", "fp32", "bf16", "fp16")


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


def resolve_precision(name: str, device: torch.device) -> torch.dtype:
    """Choose the network dtype: ``auto`` is bf16 on CPUs with native bf16, fp16 on CUDA, else fp32.

    Reduced precision is only the default where it stays within 35 dB PSNR of fp32
    on real frames (measured in scripts/bench_render.py and tests/test_weights.py).
    """
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
