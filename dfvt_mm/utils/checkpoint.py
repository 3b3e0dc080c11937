"""Loading mmengine checkpoints on torch >= 2.6.

torch 2.6 made ``torch.load`` default to ``weights_only=True``. mmengine 0.10.7 does not pass the
argument, and its own checkpoints hold more than tensors (``message_hub`` history buffers, numpy
scalars, the config), so ``resume``/``load_from``, ``tools/test.py`` and the inferencers all fail
with ``Unsupported global``. Importing :mod:`dfvt_mm` (which every config of this project does
through ``custom_imports``) re-registers mmengine's local-file loader with ``weights_only=False``:
the same trust mmengine placed in checkpoint files before torch 2.6.
"""

from __future__ import annotations

import os.path as osp
from typing import Any

import torch
from mmengine.runner.checkpoint import CheckpointLoader
from mmengine.utils import digit_version


def load_from_local(filename: str, map_location: Any = None) -> Any:
    """mmengine's loader for local checkpoint files, with ``weights_only=False``."""
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    return torch.load(filename, map_location=map_location, weights_only=False)


def patch_mmengine_checkpoint_loading() -> bool:
    """Make mmengine load local checkpoints with ``weights_only=False`` (idempotent).

    Returns:
        Whether the loader is patched (False on torch < 2.6, which needs no patch).
    """
    if digit_version(torch.__version__) < digit_version('2.6.0'):
        return False
    CheckpointLoader.register_scheme(prefixes='', loader=load_from_local, force=True)
    return True
