from .checkpoint import (
    CheckpointArchError,
    CheckpointError,
    CheckpointLayoutError,
    CorruptCheckpointError,
    UnsafeCheckpointError,
    checkpoint_safe_globals,
    load_from_local,
    unwrap_state_dict,
)
from .mmengine_patches import (
    patch_mmengine_checkpoint_loading,
    register_sdpa_flop_handle,
    sdpa_flop_jit,
)

__all__ = [
    'CheckpointArchError',
    'CheckpointError',
    'CheckpointLayoutError',
    'CorruptCheckpointError',
    'UnsafeCheckpointError',
    'checkpoint_safe_globals',
    'load_from_local',
    'patch_mmengine_checkpoint_loading',
    'register_sdpa_flop_handle',
    'sdpa_flop_jit',
    'unwrap_state_dict',
]
