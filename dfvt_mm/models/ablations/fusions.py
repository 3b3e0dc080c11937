"""The fusions DANE is compared with in the paper's Table 5, and none at all (for the stages
without a Spatial Module, Tables 2-3).

Each is a module from the registry, chosen by ``fusion_cfg`` (``DFvT``'s, or a stage's) and built
by :class:`~dfvt_mm.models.backbones.dfvt.DFvTBlock` as ``type(embed_dims=..., norm_cfg=...)``;
it is called as ``fusion(context, spatial)`` on channels-last maps (B, H, W, C) and returns the
fused tokens. The gated ones keep DANE's gated sum and its gates' parameter names
(``channel.*``, ``spatial.*``).

Example:
    >>> from dfvt_mm.models import DFvT
    >>> model = DFvT(arch='small', fusion_cfg=dict(type='SEFusion'))  # Table 5, "SE"
"""

from __future__ import annotations

from mmengine.model import BaseModule
from mmengine.registry import MODELS
from torch import Tensor

from ..backbones.dfvt import DANE, gated_sum


class _Fusion(BaseModule):
    """A fusion without parameters; built with the arguments every fusion gets.

    Args:
        embed_dims: Number of channels (unused).
        norm_cfg: Config of the norm layers (unused).
        init_cfg: Initialization config dict.
    """

    def __init__(
        self,
        embed_dims: int,
        norm_cfg: dict | None = None,
        init_cfg: dict | list[dict] | None = None,
    ) -> None:
        super().__init__(init_cfg)


@MODELS.register_module()
class NoFusion(_Fusion):
    """No fusion: the tokens as they are (the block is a plain Swin block)."""

    def forward(self, context: Tensor, spatial: Tensor | None) -> Tensor:
        return context


@MODELS.register_module()
class SumFusion(_Fusion):
    """Table 5 "SUM" (and Table 3 "CM + SM"): ``x + s``."""

    def forward(self, context: Tensor, spatial: Tensor) -> Tensor:
        return context + spatial


@MODELS.register_module()
class SumMulFusion(_Fusion):
    """Table 5 "SUM+MUL": ``x + s + x * s``."""

    def forward(self, context: Tensor, spatial: Tensor) -> Tensor:
        return context + spatial + context * spatial


@MODELS.register_module()
class SEFusion(DANE):
    """Table 5 "SE": DANE's gated sum with its channel gate alone (a squeeze-and-excitation of
    the context tokens). DANE's arguments; its spatial gate is not kept."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        del self.spatial

    def forward(self, context: Tensor, spatial: Tensor) -> Tensor:
        return gated_sum(context, spatial, self.channel(context.mean(dim=(1, 2), keepdim=True)))


@MODELS.register_module()
class SpatialFusion(DANE):
    """Table 5 "SPATIAL": DANE's gated sum with its spatial gate alone (on the Spatial Module's
    tokens). DANE's arguments; its channel gate is not kept."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        del self.channel

    def forward(self, context: Tensor, spatial: Tensor) -> Tensor:
        return gated_sum(context, spatial, self.spatial(spatial))


@MODELS.register_module()
class RDANE(DANE):
    """Table 5 "rDANE": DANE with its gates' inputs swapped: channel attention on the Spatial
    Module's tokens, spatial attention on the context (DANE's arguments and parameters)."""

    def forward(self, context: Tensor, spatial: Tensor) -> Tensor:
        gate = self.spatial(context) + self.channel(spatial.mean(dim=(1, 2), keepdim=True))
        return gated_sum(context, spatial, gate)
