"""Where a feed-forward network's flicker comes from: its compound loss under pure shifts.

Crops of the registry pictures (the stable training's data, none of the evaluation clips) are
moved by a whole or fractional number of pixels with no noise, and each network's output of
the moved crop is compared with its moved output (flowstyle.train.stable.compound_loss, the
bicubic warp of the training). The shipped multi-style network downsamples twice by 2, so it is
equivariant to 4 px shifts only: 1-3 px land on another phase of its grid and get other strokes
(docs/stable.md, "Session 14"). The interpolation floor (a crop moved there and back) is printed
beside it, so the loss is the network's and not the warp's.

fp32, so the figures do not depend on the CPU's bf16 support.

Usage: python scripts/probe_shifts.py [CHECKPOINT_OR_EXPORT ...] [--batches 6] [--styles all]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flowstyle.system import bench_header  # noqa: E402
from flowstyle.train.data import CropStream, find_sources  # noqa: E402
from flowstyle.train.options import StableOptions  # noqa: E402
from flowstyle.train.pictures import registry_pictures  # noqa: E402
from flowstyle.train.stable import (Conditioned, Conditions, compound_loss, moved_input, start_weights,  # noqa: E402
                                    student_network, teacher_network)
from flowstyle.train.students import to_tensor  # noqa: E402

SHIFTS = (0.25, 0.5, 1.0, 2.0, 3.0, 4.0)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("weights", nargs="*", type=Path, help="train-stable checkpoints or exported networks")
    ap.add_argument("--batches", type=int, default=6, help="batches of 4 crops of 256 px")
    ap.add_argument("--seed", type=int, default=123)
    args = ap.parse_args(argv)
    print(bench_header(), flush=True)
    print("this probe runs every network in fp32", flush=True)
    cpu = torch.device("cpu")
    nets = {"shipped": Conditioned(teacher_network("multistyle", cpu)).eval()}
    for path in args.weights:
        loaded = torch.load(path, map_location="cpu", weights_only=False) if path.is_file() else {}
        antialias = "antialias" in (loaded.get("net", loaded) if isinstance(loaded, dict) else {})
        net = Conditioned(student_network("multistyle", cpu, antialias)).eval()
        net.net.load_state_dict(start_weights(path, "multistyle", antialias)[0])
        nets[path.name] = net
    crops = CropStream(find_sources(registry_pictures()), 256, args.seed)
    generator = torch.Generator().manual_seed(args.seed)
    losses: dict[tuple[str, float], list[float]] = {}
    with torch.no_grad():
        for _ in range(args.batches):
            x = to_tensor(crops.next_batch(4).frames, cpu)
            condition = Conditions(StableOptions(), None)(4, generator, cpu)
            for shift in SHIFTS:
                flow = torch.zeros(4, 2, 256, 256)
                flow[:, 0] = shift
                back = moved_input(moved_input(x, flow), -flow)[..., 8:-8, 8:-8]
                losses.setdefault(("floor", shift), []).append(float((back - x[..., 8:-8, 8:-8]).pow(2).mean()) / 2)
                for name, net in nets.items():
                    loss = compound_loss(net(x, condition), net(moved_input(x, flow), condition), flow).mean()
                    losses.setdefault((name, shift), []).append(float(loss))
    for shift in SHIFTS:
        ship = np.mean(losses[("shipped", shift)])
        cells = [f"shipped {ship:.5f}"] + [f"{name} {np.mean(losses[(name, shift)]):.5f} "
                                           f"({np.mean(losses[(name, shift)]) / ship:.2f}x)" for name in nets if name != "shipped"]
        print(f"shift {shift:4} px: " + "  ".join(cells) + f"  warp floor {np.mean(losses[('floor', shift)]):.5f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
