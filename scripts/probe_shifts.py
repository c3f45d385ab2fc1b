"""Where a feed-forward network's flicker comes from: its compound loss under pure shifts.

Crops of the registry pictures (the stable training's data, none of the evaluation clips) are
moved by a whole or fractional number of pixels with no noise, and each network's output of
the moved crop is compared with its moved output (flowstyle.train.stable.compound_loss, the
bicubic warp of the training). The shipped multi-style network downsamples twice by 2, so it is
equivariant to 4 px shifts only: 1-3 px land on another phase of its grid and get other strokes
(docs/stable.md, "Session 14"). The interpolation floor (a crop moved there and back) is printed
beside it, so the loss is the network's and not the warp's.

A blurrier network moves its strokes more smoothly, so each network's sharpness (the Laplacian
energy of its output over the shipped network's) and its relative Gram difference to the shipped
network's output at relu1_1 and relu2_2 are printed too: a lower loss bought with blur shows there.
``--antialiased-shipped`` adds the shipped weights in the anti-aliased form, nothing trained.
``--network arbitrary`` probes the arbitrary network with the style vectors of crops of
``--painting`` (default: the two paintings of ../shared/media/styles, which no training run sees).

fp32, so the figures do not depend on the CPU's bf16 support.

Usage: python scripts/probe_shifts.py [CHECKPOINT_OR_EXPORT ...] [--batches 6] [--antialiased-shipped]
       [--network multistyle|arbitrary] [--painting PICTURE_OR_FOLDER ...]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flowstyle.losses import load_vgg16  # noqa: E402
from flowstyle.models.arbitrary import STYLE_SIZE  # noqa: E402
from flowstyle.system import bench_header  # noqa: E402
from flowstyle.train.data import CropStream, find_sources  # noqa: E402
from flowstyle.train.options import StableOptions  # noqa: E402
from flowstyle.train.pictures import registry_pictures  # noqa: E402
from flowstyle.train.stable import (Conditioned, Conditions, compound_loss, laplacian_energy, moved_input,  # noqa: E402
                                    relative_gram, start_weights, student_network, teacher_network)
from flowstyle.train.students import to_tensor  # noqa: E402

SHIFTS = (0.25, 0.5, 1.0, 2.0, 3.0, 4.0)
HELD_OUT_PAINTINGS = ROOT.parent / "shared" / "media" / "styles"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("weights", nargs="*", type=Path, help="train-stable checkpoints or exported networks")
    ap.add_argument("--batches", type=int, default=6, help="batches of 4 crops of 256 px")
    ap.add_argument("--seed", type=int, default=123)
    ap.add_argument("--antialiased-shipped", action="store_true",
                    help="also the shipped weights in the anti-aliased form (blurs added, nothing trained)")
    ap.add_argument("--network", choices=("multistyle", "arbitrary"), default="multistyle")
    ap.add_argument("--painting", nargs="*", type=Path, default=[HELD_OUT_PAINTINGS],
                    help="--network arbitrary: style pictures whose crops give the style vectors")
    args = ap.parse_args(argv)
    network = args.network
    print(bench_header(), flush=True)
    print("this probe runs every network in fp32", flush=True)
    cpu = torch.device("cpu")
    nets = {"shipped": Conditioned(teacher_network(network, cpu)).eval()}
    if args.antialiased_shipped:
        nets["shipped, anti-aliased"] = Conditioned(student_network(network, cpu, antialias=True)).eval()
    for path in args.weights:
        loaded = torch.load(path, map_location="cpu", weights_only=False) if path.is_file() else {}
        antialias = "antialias" in (loaded.get("net", loaded) if isinstance(loaded, dict) else {})
        net = Conditioned(student_network(network, cpu, antialias)).eval()
        net.net.load_state_dict(start_weights(path, network, antialias)[0])
        nets[path.name] = net
    crops = CropStream(find_sources(registry_pictures()), 256, args.seed)
    paintings = CropStream(find_sources(args.painting), STYLE_SIZE, args.seed + 1) if network == "arbitrary" else None
    conditions = Conditions(StableOptions(network=network), paintings)
    generator = torch.Generator().manual_seed(args.seed)
    vgg = load_vgg16(cpu)
    layers = ("relu1_1", "relu2_2")
    losses: dict[tuple[str, float], list[float]] = {}
    look: dict[str, list[list[float]]] = {}
    with torch.no_grad():
        for _ in range(args.batches):
            x = to_tensor(crops.next_batch(4).frames, cpu)
            condition = conditions(4, generator, cpu)
            shipped = nets["shipped"](x, condition)
            shipped_features = vgg(shipped, layers)
            for name, net in nets.items():
                out = net(x, condition)
                features = vgg(out, layers)
                look.setdefault(name, []).append(
                    [float((laplacian_energy(out) / laplacian_energy(shipped)).mean())]
                    + [float(relative_gram(features[k], shipped_features[k]).mean()) for k in layers])
            for shift in SHIFTS:
                flow = torch.zeros(4, 2, 256, 256)
                flow[:, 0] = shift
                back = moved_input(moved_input(x, flow), -flow)[..., 8:-8, 8:-8]
                losses.setdefault(("floor", shift), []).append(float((back - x[..., 8:-8, 8:-8]).pow(2).mean()) / 2)
                for name, net in nets.items():
                    loss = compound_loss(net(x, condition), net(moved_input(x, flow), condition), flow).mean()
                    losses.setdefault((name, shift), []).append(float(loss))
    for name, rows in look.items():
        sharp, g11, g22 = np.mean(rows, axis=0)
        print(f"{name}: sharpness {sharp:.3f}x the shipped network's, relative Gram to it relu1_1 {g11:.4f} "
              f"relu2_2 {g22:.4f}")
    for shift in SHIFTS:
        ship = np.mean(losses[("shipped", shift)])
        cells = [f"shipped {ship:.5f}"] + [f"{name} {np.mean(losses[(name, shift)]):.5f} "
                                           f"({np.mean(losses[(name, shift)]) / ship:.2f}x)" for name in nets if name != "shipped"]
        print(f"shift {shift:4} px: " + "  ".join(cells) + f"  warp floor {np.mean(losses[('floor', shift)]):.5f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
