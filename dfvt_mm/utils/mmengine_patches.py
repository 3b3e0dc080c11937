"""The two patches of mmengine 0.10.7 that importing :mod:`dfvt_mm` applies.

1. Its local checkpoint loader, safe on torch >= 2.6. mmengine 0.10.7 calls ``torch.load``
   without ``weights_only``; on torch >= 2.6 that means ``weights_only=True`` without the types
   mmengine's own checkpoints hold, so ``resume``, ``load_from``, ``tools/test.py``, ``mim test``
   and the inferencers fail on them. Importing :mod:`dfvt_mm` (every config here does, through
   ``custom_imports``) registers :func:`dfvt_mm.utils.checkpoint.load_from_local` as mmengine's
   loader for local files: still ``weights_only=True``, with exactly those types allowed during
   the call, and a one-line refusal for anything else. Remote schemes (``http://``, ``s3://``,
   ...) keep mmengine's loaders, which torch loads with ``weights_only=True``.

2. FLOP counting of ``scaled_dot_product_attention``. mmengine 0.10.7's complexity analysis
   counts matmuls, convolutions and norms but has no handle for
   ``aten::scaled_dot_product_attention``, so the attention of any model that uses the fused
   kernel would be silently left out of ``get_model_complexity_info`` (and of mmdet's, mmseg's
   and mmpretrain's ``get_flops`` tools built on it). :func:`register_sdpa_flop_handle` adds the
   handle to mmengine's default table.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from mmengine.analysis import complexity_analysis
from mmengine.analysis.jit_handles import get_shape
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


SDPA_OP = 'aten::scaled_dot_product_attention'


def sdpa_flop_jit(inputs: list[Any], outputs: list[Any]) -> int:
    """Multiply-accumulates of ``softmax(q @ k^T) @ v`` (fvcore's convention: 1 MAC = 1 flop)."""
    q, k, v = (get_shape(x) for x in inputs[:3])
    batch = math.prod(q[:-2])
    length, source = q[-2], k[-2]
    return batch * length * source * (q[-1] + v[-1])


def register_sdpa_flop_handle() -> None:
    """Add the SDPA handle to mmengine's default FLOP handles (idempotent)."""
    complexity_analysis._DEFAULT_SUPPORTED_FLOP_OPS.setdefault(SDPA_OP, sdpa_flop_jit)
