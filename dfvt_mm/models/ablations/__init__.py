"""The paper's ablations (Tables 2-5) as modules from the registry, chosen by config: fusions
(``fusion_cfg``) in :mod:`.fusions`, the stages of Tables 3-4 (``stage_cfg``) in :mod:`.stages`,
and Table 2's designs in :mod:`.designs`. ``configs/ablations/`` has one config per model."""

from .designs import BaselineViT, BaselineViTStage, DownsampledViTStage, ParallelViTStage
from .fusions import RDANE, NoFusion, SEFusion, SpatialFusion, SumFusion, SumMulFusion
from .stages import CMStage, NoConvStage, NoMaxPoolStage

__all__ = [
    'RDANE',
    'BaselineViT',
    'BaselineViTStage',
    'CMStage',
    'DownsampledViTStage',
    'NoConvStage',
    'NoFusion',
    'NoMaxPoolStage',
    'ParallelViTStage',
    'SEFusion',
    'SpatialFusion',
    'SumFusion',
    'SumMulFusion',
]
