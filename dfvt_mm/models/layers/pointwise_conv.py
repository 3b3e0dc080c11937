"""A 1x1 convolution computed as a matrix product over the pixels of a channels-last map."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class PointwiseConv2d(nn.Conv2d):
    """``nn.Conv2d`` with a 1x1 kernel whose training pass runs as ``F.linear`` on the pixels.

    A ``channels_last`` (B, C, H, W) map is a (B, H, W, C) matrix in memory, so the 1x1 conv is a
    GEMM on a view of it and the result is again a ``channels_last`` view. With autograd recording,
    forward plus backward of that GEMM is faster on CPUs than mkldnn's 1x1 conv (1.0-1.35x
    measured at DFvT's sizes); in inference mkldnn's conv is as fast or faster, so it is kept.
    Parameters, state-dict keys and results are those of ``nn.Conv2d(in, out, 1)``.

    Args:
        in_channels: Input channels.
        out_channels: Output channels.
        kernel_size: Must be 1 (accepted so that mmcv's ``ConvModule`` can build it).
        bias: Whether the conv has a bias.
        kwargs: Other ``nn.Conv2d`` arguments; stride, padding, dilation and groups must keep
            their defaults.
    """

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int = 1, bias: bool = True, **kwargs
    ) -> None:
        super().__init__(in_channels, out_channels, kernel_size, bias=bias, **kwargs)
        if (
            self.kernel_size != (1, 1)
            or self.stride != (1, 1)
            or self.padding != (0, 0)
            or self.dilation != (1, 1)
            or self.groups != 1
            or self.padding_mode != 'zeros'
        ):
            raise ValueError(
                f'PointwiseConv2d is a plain 1x1 conv; got kernel {self.kernel_size}, stride '
                f'{self.stride}, padding {self.padding}, dilation {self.dilation}, groups '
                f'{self.groups}. Use nn.Conv2d for other convs.'
            )

    def forward(self, x: Tensor) -> Tensor:
        if torch.is_grad_enabled() and (x.requires_grad or self.weight.requires_grad):
            weight = self.weight.view(self.out_channels, self.in_channels)
            return F.linear(x.permute(0, 2, 3, 1), weight, self.bias).permute(0, 3, 1, 2)
        return super().forward(x)
