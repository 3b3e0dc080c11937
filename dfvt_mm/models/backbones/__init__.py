from .dfvt import DANE, DFvT, DFvTBlock, DFvTStage
from .dfvt_checkpoint import (
    convert_official_checkpoint,
    describe_arch,
    infer_arch,
    is_dfvt_mm_layout,
    is_official_layout,
)

__all__ = [
    'DANE',
    'DFvT',
    'DFvTBlock',
    'DFvTStage',
    'convert_official_checkpoint',
    'describe_arch',
    'infer_arch',
    'is_dfvt_mm_layout',
    'is_official_layout',
]
