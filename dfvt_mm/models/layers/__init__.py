from .pointwise_conv import PointwiseConv2d
from .window_attention import (
    WindowMSA,
    permute_tokens,
    relative_position_index,
    shift_window_mask,
    shifted_window_order,
    window_attention,
)

__all__ = [
    'PointwiseConv2d',
    'WindowMSA',
    'permute_tokens',
    'relative_position_index',
    'shift_window_mask',
    'shifted_window_order',
    'window_attention',
]
