"""FLOP counting of ``scaled_dot_product_attention`` in mmengine's complexity analysis.

mmengine 0.10.7 counts matmuls, convolutions and norms but has no handle for
``aten::scaled_dot_product_attention``, so the attention of any model that uses the fused
kernel would be silently left out of ``get_model_complexity_info`` (and of mmdet's, mmseg's and
mmpretrain's ``get_flops`` tools built on it). This adds the handle to mmengine's default table.
"""

from __future__ import annotations

import math
from typing import Any

from mmengine.analysis import complexity_analysis
from mmengine.analysis.jit_handles import get_shape

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
