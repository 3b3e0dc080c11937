# The paper's ablations (Tables 2-5): modules of the registry that their configs name.
from . import ablations  # noqa: F401
from .backbones import (
    DANE,
    DFvT,
    DFvTBlock,
    DFvTStage,
    convert_official_checkpoint,
    describe_arch,
    infer_arch,
    is_dfvt_mm_layout,
    is_official_layout,
)
from .layers import WindowMSA

__all__ = [
    'DANE',
    'DFvT',
    'DFvTBlock',
    'DFvTStage',
    'WindowMSA',
    'convert_official_checkpoint',
    'describe_arch',
    'infer_arch',
    'is_dfvt_mm_layout',
    'is_official_layout',
]
