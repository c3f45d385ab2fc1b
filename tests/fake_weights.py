"""Weights folders with ``[trained.NAME]`` entries (``--network stable`` and the like) made of given state
dicts, for tests and for trying the benchmark (eval/run_stable.py) before real stable weights exist."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import torch

from flowstyle import registry

STABLE_BASES = ("multistyle26", "arbitrary_transform")  # the networks `--network stable` swaps


def trained_folder(folder: Path, states: Mapping[str, Mapping[str, torch.Tensor]]) -> dict[str, Path]:
    """A weights folder holding the repo's converted weights and a trained entry per ``states`` item
    (``NAME: state dict``; NAME is ``BASE_VERSION``, e.g. ``multistyle26_stable``). Returns each file."""
    src = registry.weights_dir()
    folder.mkdir(parents=True, exist_ok=True)
    os.symlink(src / "converted", folder / "converted")
    (folder / "stable").mkdir()
    manifest = (src / "manifest.toml").read_text(encoding="utf-8").split("\n[trained.")[0]  # trained entries last
    paths = {}
    for name, state in states.items():
        path = paths[name] = folder / "stable" / f"{name}.pt"
        torch.save(dict(state), path)
        manifest += (f'\n[trained.{name}]\ndescription = "test"\nfile = "stable/{name}.pt"\n'
                     f'sha256 = "{registry.sha256_file(path)}"\nsize = {path.stat().st_size}\n'
                     f'base = "{name.rsplit("_", 1)[0]}"\nlicence = "Apache-2.0"\nrecipe = "a test"\n')
    (folder / "manifest.toml").write_text(manifest, encoding="utf-8")
    return paths


def with_trained(folder: Path, state: Mapping[str, torch.Tensor], name: str = "multistyle26_stable") -> Path:
    """A weights folder holding the repo's converted weights and one trained entry made of ``state``."""
    return trained_folder(folder, {name: state})[name]


def noisy(base: str, scale: float, seed: int = 0) -> dict[str, torch.Tensor]:
    """The shipped weights of ``base`` with noise of ``scale`` x each convolution's spread on every
    convolution kernel: a network that draws differently (a scale alone would not: each convolution is
    followed by an instance norm)."""
    g = torch.Generator().manual_seed(seed)
    return {k: v + scale * v.std() * torch.randn(v.shape, generator=g) if v.dim() == 4 else v
            for k, v in registry.load_state_dict(base).items()}


def fake_stable(folder: Path, scale: float = 0.05, seed: int = 0) -> Path:
    """A weights folder whose stable networks are the original ones plus small noise (not stable at all:
    a stand-in that lets the benchmark run end to end). Returns the folder, for FLOWSTYLE_WEIGHTS."""
    trained_folder(folder, {f"{base}_stable": noisy(base, scale, seed) for base in STABLE_BASES})
    return folder


if __name__ == "__main__":  # python tests/fake_weights.py FOLDER [SCALE]
    import sys

    print(fake_stable(Path(sys.argv[1]), *(float(a) for a in sys.argv[2:3])))
