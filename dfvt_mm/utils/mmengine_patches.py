"""A patch of mmengine 0.10.7: its local checkpoint loader, safe on torch >= 2.6.

mmengine 0.10.7 calls ``torch.load`` without ``weights_only``; on torch >= 2.6 that means
``weights_only=True`` without the types mmengine's own checkpoints hold, so ``resume``,
``load_from``, ``tools/test.py``, ``mim test`` and the inferencers fail on them. Importing
:mod:`dfvt_mm` (every config here does, through ``custom_imports``) registers
:func:`dfvt_mm.utils.checkpoint.load_from_local` as mmengine's loader for local files: still
``weights_only=True``, with exactly those types allowed during the call, and a one-line refusal
for anything else. Remote schemes (``http://``, ``s3://``, ...) keep mmengine's loaders, which
torch loads with ``weights_only=True``.
"""

from __future__ import annotations

import torch
from mmengine.runner.checkpoint import CheckpointLoader
from mmengine.utils import digit_version

from .checkpoint import load_from_local


def patch_mmengine_checkpoint_loading() -> bool:
    """Register the safe local loader with mmengine's ``CheckpointLoader`` (idempotent).

    Returns:
        Whether the loader is patched (False on torch < 2.6, whose mmengine loader needs none).
    """
    if digit_version(torch.__version__) < digit_version('2.6.0'):
        return False
    CheckpointLoader.register_scheme(prefixes='', loader=load_from_local, force=True)
    return True
