"""What runs training and evaluation: loading a config so that it runs here (``runner``), the
command lines of ``tools/train.py`` and ``tools/test.py`` (``train``, ``test``), and the package's
mmengine hooks (registered in mmengine's root ``HOOKS``): crash-safe checkpoints
(``crash_safe``), one-line bad samples (``bad_samples``) and progress files (``hooks``)."""

from .bad_samples import BadSampleError, BadSampleHook
from .crash_safe import CrashSafeCheckpointHook, atomic_write, find_resumable_checkpoint
from .hooks import ProgressHook
from .runner import add_safety_hooks, build_runner, exit_on_bad_input, load_config, prepare_config

__all__ = [
    'BadSampleError',
    'BadSampleHook',
    'CrashSafeCheckpointHook',
    'ProgressHook',
    'add_safety_hooks',
    'atomic_write',
    'build_runner',
    'exit_on_bad_input',
    'find_resumable_checkpoint',
    'load_config',
    'prepare_config',
]
