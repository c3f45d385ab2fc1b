"""Describe the CPU: the instruction-set flags that decide which precision is fast here,
and the capability torch's own kernels run at.

One place reads the flags (``/proc/cpuinfo``); :mod:`flowstyle.device` picks the
precision from :func:`cpu_info`, and ``flowstyle --version``, ``flowstyle probe
--system`` and every benchmark print :attr:`CpuInfo.summary`, so a figure always says
which kind of CPU it came from (docs/architecture.md, "Weights and CPUs": results differ between AVX2,
AVX-512 and AMX machines).

This module is at the bottom of the package: it imports nothing from flowstyle.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch

# The flags that change what is fast or what a test may assume, in the order they are printed.
FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile", "amx_int8", "avx512_vnni", "avx_vnni")
CPUINFO = Path("/proc/cpuinfo")


@dataclass(frozen=True)
class CpuInfo:
    """What this CPU offers and what torch makes of it.

    Attributes:
        flags: those of :data:`FLAGS` the CPU reports, in :data:`FLAGS` order.
        torch_capability: ``torch.backends.cpu.get_cpu_capability()``: ``AVX512``,
            ``AVX2``, ``DEFAULT`` on x86. ``ATEN_CPU_CAPABILITY=avx2`` lowers it, which
            is how an AVX2 machine is simulated on a bigger one.
        known: False when no flags could be read (no /proc/cpuinfo: macOS, Windows, a
            sandbox); the flags are then empty rather than guessed.
    """

    flags: tuple[str, ...]
    torch_capability: str
    known: bool = True

    @property
    def native_bf16(self) -> bool:
        """True when bf16 convolutions run natively: AVX512-BF16 or AMX in the CPU, and torch
        at AVX-512 capability.

        Without those instructions bf16 is emulated and slower than fp32. A capability
        below AVX512 (a real AVX2 machine, or ``ATEN_CPU_CAPABILITY=avx2`` simulating one)
        counts as no native bf16, so a simulated AVX2 run picks what a real one would.
        (oneDNN, which runs the convolutions, chooses its own instruction set; to restrict
        it too, set ``ONEDNN_MAX_CPU_ISA=AVX2``.)
        """
        has_bf16 = "avx512_bf16" in self.flags or "amx_bf16" in self.flags
        return has_bf16 and self.torch_capability.upper().startswith("AVX512")

    @property
    def vnni(self) -> bool:
        """True when the CPU has int8 dot-product instructions (AVX512-VNNI, AVX-VNNI or AMX-INT8)."""
        return any(f in self.flags for f in ("avx512_vnni", "avx_vnni", "amx_int8"))

    @property
    def summary(self) -> str:
        """One line, e.g. ``cpu: avx2 avx512f avx512_bf16 avx512_vnni (torch capability AVX512; native bf16: yes)``."""
        if not self.known:
            listed = f"flags unknown (no {CPUINFO})"
        else:
            listed = " ".join(self.flags) if self.flags else f"none of {'/'.join(FLAGS)}"
        return (f"cpu: {listed} (torch capability {self.torch_capability}; "
                f"native bf16: {'yes' if self.native_bf16 else 'no'})")


def parse_flags(cpuinfo: str) -> tuple[str, ...]:
    """Those of :data:`FLAGS` named on the first ``flags`` line of a /proc/cpuinfo text.

    Flags are matched as whole words (``avx512_bf16`` must not be found inside a longer
    name); every core lists the same flags, so the first line is enough.
    """
    for line in cpuinfo.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() == "flags":
            present = set(value.split())
            return tuple(f for f in FLAGS if f in present)
    return ()


def torch_capability() -> str:
    """The instruction set torch's CPU kernels dispatch to (honours ``ATEN_CPU_CAPABILITY``)."""
    return str(torch.backends.cpu.get_cpu_capability())


def describe(cpuinfo: str | None, capability: str) -> CpuInfo:
    """A :class:`CpuInfo` from a /proc/cpuinfo text (None: not available) and a torch capability."""
    if cpuinfo is None:
        return CpuInfo(flags=(), torch_capability=capability, known=False)
    return CpuInfo(flags=parse_flags(cpuinfo), torch_capability=capability)


@lru_cache(maxsize=1)
def cpu_info() -> CpuInfo:
    """This machine's :class:`CpuInfo`, read once per process."""
    try:
        text: str | None = CPUINFO.read_text(encoding="ascii", errors="ignore")
    except OSError:  # not Linux, or /proc hidden: say "unknown" rather than guess
        text = None
    return describe(text, torch_capability())
