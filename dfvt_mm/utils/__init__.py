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
from .paths import resolve, root
from .process import run_logged, train_command
from .tasks import SCOPES, TASKS, Task, task_of

__all__ = [
    'CheckpointArchError',
    'CheckpointError',
    'CheckpointLayoutError',
    'CorruptCheckpointError',
    'SCOPES',
    'TASKS',
    'Task',
    'UnsafeCheckpointError',
    'checkpoint_safe_globals',
    'load_from_local',
    'patch_mmengine_checkpoint_loading',
    'register_sdpa_flop_handle',
    'resolve',
    'root',
    'run_logged',
    'sdpa_flop_jit',
    'task_of',
    'train_command',
    'unwrap_state_dict',
]
