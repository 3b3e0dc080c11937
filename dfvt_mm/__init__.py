"""DFvT (Doubly-Fused ViT) for OpenMMLab 2.0.

Importing the package registers ``DFvT`` in mmengine's root ``MODELS`` registry, which the
mmpretrain, mmdet and mmseg registries all search, so ``type='DFvT'`` builds in their configs after
``custom_imports = dict(imports=['dfvt_mm'], allow_failed_imports=False)``.
"""

from .models import DFvT, WindowMSA, convert_official_checkpoint
from .utils import patch_mmengine_checkpoint_loading, register_sdpa_flop_handle
from .version import __version__

patch_mmengine_checkpoint_loading()
register_sdpa_flop_handle()

__all__ = ['DFvT', 'WindowMSA', 'convert_official_checkpoint', '__version__']
