from .checkpoint import load_from_local, patch_mmengine_checkpoint_loading
from .complexity import register_sdpa_flop_handle, sdpa_flop_jit

__all__ = [
    'load_from_local',
    'patch_mmengine_checkpoint_loading',
    'register_sdpa_flop_handle',
    'sdpa_flop_jit',
]
