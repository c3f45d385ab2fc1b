"""flowstyle.cpu: the CPU flags read from /proc/cpuinfo texts of real machine kinds, the
summary line, and the precision ``auto`` picks when torch runs as an AVX2 machine."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from flowstyle.cpu import CPUINFO, FLAGS, cpu_info, describe, parse_flags
from flowstyle.device import cpu_has_fast_bf16

ROOT = Path(__file__).resolve().parent.parent

# Flag lines as such machines print them (abridged in the middle, not at the flags that matter).
AVX2_LAPTOP = """processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Core(TM) i7-8565U CPU @ 1.80GHz
flags\t\t: fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 ss ht \
syscall nx pdpe1gb rdtscp lm constant_tsc pni pclmulqdq ssse3 fma cx16 sse4_1 sse4_2 movbe popcnt aes xsave avx f16c \
rdrand lahf_lm abm 3dnowprefetch fsgsbase bmi1 avx2 smep bmi2 erms invpcid mpx rdseed adx smap clflushopt xsaveopt \
xsavec xgetbv1 xsaves arat
bugs\t\t: spectre_v1 spectre_v2 spec_store_bypass

processor\t: 1
flags\t\t: fpu vme de pse tsc msr pae mce cx8 avx2 fma
"""
SAPPHIRE_RAPIDS = """processor\t: 0
model name\t: Intel(R) Xeon(R) Platinum 8480+
flags\t\t: fpu sse sse2 ssse3 fma sse4_1 sse4_2 avx f16c avx2 bmi2 avx512f avx512dq avx512cd avx512bw avx512vl \
avx_vnni avx512_bf16 wbnoinvd avx512vbmi umip pku avx512_vbmi2 gfni vaes vpclmulqdq avx512_vnni avx512_bitalg \
avx512_vpopcntdq rdpid movdiri movdir64b serialize tsxldtrk amx_bf16 avx512_fp16 amx_tile amx_int8 arch_capabilities
"""
ICE_LAKE = """processor\t: 0
model name\t: Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz
flags\t\t: fpu sse sse2 avx avx2 fma avx512f avx512dq avx512ifma avx512cd avx512bw avx512vl avx512vbmi avx512_vbmi2 \
gfni vaes vpclmulqdq avx512_vnni avx512_bitalg avx512_vpopcntdq
"""
ARM_GRAVITON = """processor\t: 0
BogoMIPS\t: 243.75
Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp ssbs
CPU implementer\t: 0x41
"""


def test_flags_of_known_machine_kinds() -> None:
    assert parse_flags(AVX2_LAPTOP) == ("avx2",)
    assert parse_flags(ICE_LAKE) == ("avx2", "avx512f", "avx512_vnni")
    assert parse_flags(SAPPHIRE_RAPIDS) == FLAGS  # every flag flowstyle looks at, in FLAGS order
    assert parse_flags(ARM_GRAVITON) == ()
    # whole words only: "avx512_bf16" inside a longer name, or outside the flags line, is not the flag
    assert parse_flags("model name\t: avx512_bf16 tester\nflags\t\t: avx2 avx512_bf16x\n") == ("avx2",)


def test_native_bf16_needs_the_instructions_and_torch_at_avx512() -> None:
    assert describe(SAPPHIRE_RAPIDS, "AVX512").native_bf16
    assert not describe(SAPPHIRE_RAPIDS, "AVX2").native_bf16  # ATEN_CPU_CAPABILITY=avx2 on an AMX machine
    assert not describe(ICE_LAKE, "AVX512").native_bf16  # AVX-512 without bf16
    assert not describe(AVX2_LAPTOP, "AVX2").native_bf16
    assert describe(ICE_LAKE, "AVX512").vnni and not describe(AVX2_LAPTOP, "AVX2").vnni


def test_summary_names_flags_and_torch_capability() -> None:
    assert describe(ICE_LAKE, "AVX512").summary == \
        "cpu: avx2 avx512f avx512_vnni (torch capability AVX512; native bf16: no)"
    assert describe(SAPPHIRE_RAPIDS, "AVX512").summary == (
        "cpu: avx2 avx512f avx512_bf16 amx_bf16 amx_tile amx_int8 avx512_vnni avx_vnni "
        "(torch capability AVX512; native bf16: yes)")
    assert describe(AVX2_LAPTOP, "AVX2").summary == "cpu: avx2 (torch capability AVX2; native bf16: no)"
    assert describe(ARM_GRAVITON, "DEFAULT").summary.startswith("cpu: none of avx2/avx512f/")
    unknown = describe(None, "DEFAULT")  # no /proc/cpuinfo (macOS, Windows): say so, never guess
    assert not unknown.known and unknown.flags == () and not unknown.native_bf16
    assert unknown.summary == f"cpu: flags unknown (no {CPUINFO}) (torch capability DEFAULT; native bf16: no)"


def test_this_machine() -> None:
    info = cpu_info()
    assert info.torch_capability == torch.backends.cpu.get_cpu_capability()
    assert f"torch capability {info.torch_capability};" in info.summary
    assert cpu_has_fast_bf16() == info.native_bf16
    if CPUINFO.exists():
        flags_line = next(line for line in CPUINFO.read_text().splitlines() if line.startswith("flags"))
        assert set(info.flags) == set(flags_line.split(":", 1)[1].split()) & set(FLAGS)


PROBE = """
import json, torch
from flowstyle.cpu import cpu_info
from flowstyle.device import cpu_has_fast_bf16, loss_network_dtype, resolve_precision
cpu = torch.device("cpu")
print(json.dumps(dict(capability=cpu_info().torch_capability, summary=cpu_info().summary, fast_bf16=cpu_has_fast_bf16(),
                      precision=str(resolve_precision("auto", cpu)), loss=str(loss_network_dtype("auto", cpu)))))
"""


@pytest.mark.skipif("avx2" not in cpu_info().flags, reason="torch can only be lowered to AVX2 on a CPU that has it")
def test_simulated_avx2_machine_picks_fp32() -> None:
    """ATEN_CPU_CAPABILITY=avx2 makes torch an AVX2 machine; flowstyle must then choose as on a real one
    (fp32: no native bf16, and int8 is not yet fast enough there to be auto's choice, issue #17)."""
    env = {**os.environ, "ATEN_CPU_CAPABILITY": "avx2"}
    proc = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    seen = json.loads(proc.stdout)
    assert seen["capability"] == "AVX2"
    assert "(torch capability AVX2; native bf16: no)" in seen["summary"]
    assert seen["fast_bf16"] is False
    assert seen["precision"] == "torch.float32"
