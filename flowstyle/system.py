"""Describe the machine a run happens on: library versions, the CPU line, the CUDA
device and the precision ``auto`` picks here.

``flowstyle --version`` prints :func:`version_lines`, ``flowstyle probe --system``
prints :func:`system_lines`, and the benchmarks start with :func:`bench_header` (the
CPU line and the precision), so that a bug report or a benchmark figure names what it ran on.
"""

from __future__ import annotations

import platform

import torch

from .cpu import cpu_info
from .device import loss_network_dtype, precision_name, resolve_device, resolve_precision


def library_versions() -> dict[str, str]:
    """Versions of flowstyle and of the libraries whose behaviour shows in its output."""
    import av
    import cv2
    import numpy

    from .version import __version__

    return {"flowstyle": __version__, "python": platform.python_version(), "torch": torch.__version__,
            "av": f"{av.__version__} (ffmpeg {av.ffmpeg_version_info})", "opencv": cv2.__version__,
            "numpy": numpy.__version__}


def version_lines() -> list[str]:
    """``flowstyle X``, the library versions and the CPU line."""
    versions = library_versions()
    flowstyle = versions.pop("flowstyle")
    return [f"flowstyle {flowstyle}", ", ".join(f"{name} {v}" for name, v in versions.items()), cpu_info().summary]


def cuda_line() -> str:
    """The CUDA devices torch sees, or why there are none."""
    if not torch.cuda.is_available():
        built = f"torch built for CUDA {torch.version.cuda}" if torch.version.cuda else "a CPU-only torch build"
        return f"cuda: none ({built})"
    devices = []
    for i in range(torch.cuda.device_count()):
        p = torch.cuda.get_device_properties(i)
        devices.append(f"cuda:{i} {p.name} ({p.total_memory / 2**30:.0f} GiB, sm_{p.major}{p.minor})")
    return f"cuda: {'; '.join(devices)} (CUDA {torch.version.cuda})"


def precision_line(precision: str = "auto", device: str = "auto", loss_network: bool = False) -> str:
    """What ``--device DEVICE --precision PRECISION`` resolves to here, e.g. ``network precision
    auto: bfloat16 on cpu``; ``loss_network`` for the VGG loss network of Gatys and
    learn-style, whose ``auto`` differs on CUDA (bf16 autocast, not fp16)."""
    dev = resolve_device(device)
    if loss_network:
        what, dtype = "loss network", loss_network_dtype(precision, dev) or torch.float32
    else:
        what, dtype = "network", resolve_precision(precision, dev)
    return f"{what} precision {precision}: {precision_name(dtype)} on {dev}"


def bench_header(precision: str = "auto", device: str = "auto", loss_network: bool = False) -> str:
    """The first lines of every benchmark: the CPU line and the precision its network runs at."""
    return f"{cpu_info().summary}\n{precision_line(precision, device, loss_network)}"


def system_lines() -> list[str]:
    """Everything ``flowstyle probe --system`` prints: versions, CPU, CUDA, threads and the automatic precision."""
    return [*version_lines(), cuda_line(), f"threads: torch {torch.get_num_threads()}", precision_line()]
