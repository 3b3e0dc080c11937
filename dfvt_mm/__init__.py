"""DFvT (Doubly-Fused ViT) for OpenMMLab 2.0.

Importing the package registers ``DFvT`` in mmengine's root ``MODELS`` registry, which the
mmpretrain, mmdet and mmseg registries all search, so ``type='DFvT'`` builds in their configs after
``custom_imports = dict(imports=['dfvt_mm'], allow_failed_imports=False)``.

It also patches mmengine 0.10.7's local checkpoint loader so that it loads mmengine's own
checkpoints on torch >= 2.6 while keeping ``weights_only=True``
(:mod:`dfvt_mm.utils.mmengine_patches`).
"""

from . import engine  # noqa: F401  (registers the package's hooks)
from .models import (
    DFvT,
    WindowMSA,
    convert_official_checkpoint,
    describe_arch,
    infer_arch,
    is_dfvt_mm_layout,
    is_official_layout,
)
from .utils import register_sdpa_flop_handle
from .utils.mmengine_patches import patch_mmengine_checkpoint_loading
from .version import __version__

patch_mmengine_checkpoint_loading()
register_sdpa_flop_handle()

__all__ = [
    'DFvT',
    'WindowMSA',
    'convert_official_checkpoint',
    'describe_arch',
    'infer_arch',
    'is_dfvt_mm_layout',
    'is_official_layout',
    '__version__',
]
