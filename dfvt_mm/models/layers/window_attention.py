"""Swin-style (shifted) window self-attention on ``scaled_dot_product_attention``.

The geometry of a window layout (relative-position indices, the shift mask) depends only on the
padded map size, the window and the shift, so it is computed once per layout and cached; a forward
pass only gathers the learnable bias table and calls the fused attention kernel.
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor, nn

# Swin's value for "different region after the cyclic shift"; kept for parity with released weights.
SHIFT_MASK_VALUE = -100.0


def relative_position_index(window: int, table_window: int) -> Tensor:
    """Index into a ``(2 * table_window - 1) ** 2`` bias table for every query/key pair of a window.

    A window smaller than the table's (classification on maps under 7x7) uses the centre of the
    table: its relative offsets are a subset of the table's.

    Returns:
        Long tensor of shape ``(window**2 * window**2,)``.
    """
    if window > table_window:
        raise ValueError(f'window {window} is larger than the bias table window {table_window}')
    coords = torch.stack(torch.meshgrid(torch.arange(window), torch.arange(window), indexing='ij'))
    coords = coords.flatten(1)  # 2, N
    rel = coords[:, :, None] - coords[:, None, :] + (table_window - 1)  # 2, N, N; offsets >= 0
    return (rel[0] * (2 * table_window - 1) + rel[1]).flatten()


def shift_window_mask(height: int, width: int, window: int, shift: int) -> Tensor:
    """Swin's attention mask for a cyclically shifted, padded ``height x width`` map.

    Returns:
        Float tensor ``(num_windows, window**2, window**2)``: 0 within a region, -100 across
        regions.
    """
    img_mask = torch.zeros(height, width)
    cnt = 0
    for hs in (slice(0, -window), slice(-window, -shift), slice(-shift, None)):
        for ws in (slice(0, -window), slice(-window, -shift), slice(-shift, None)):
            img_mask[hs, ws] = cnt
            cnt += 1
    windows = img_mask.view(height // window, window, width // window, window)
    windows = windows.permute(0, 2, 1, 3).reshape(-1, window * window)
    mask = windows[:, None, :] - windows[:, :, None]
    return mask.ne(0).float() * SHIFT_MASK_VALUE


@functools.lru_cache(maxsize=256)
def window_geometry(
    height: int, width: int, window: int, shift: int, table_window: int, device: torch.device
) -> tuple[Tensor, Tensor | None]:
    """Cached relative-position index and shift mask (None without shift) of one layout."""
    index = relative_position_index(window, table_window).to(device)
    mask = shift_window_mask(height, width, window, shift).to(device) if shift else None
    return index, mask


class WindowMSA(BaseModule):
    """Window multi-head self-attention with a relative position bias, optionally shifted.

    Works on channels-last maps of any size: the map is zero-padded on the right/bottom to a
    multiple of the window (padded tokens stay visible as keys, as in Swin's detection code),
    cyclically shifted when ``shift > 0``, attended window by window and restored.

    Args:
        embed_dims: Number of channels.
        num_heads: Number of attention heads.
        window_size: Window of the bias table; smaller windows use its centre.
        qkv_bias: Whether the qkv projection has a bias.
        init_cfg: Initialization config dict.
    """

    def __init__(
        self,
        embed_dims: int,
        num_heads: int,
        window_size: int = 7,
        qkv_bias: bool = True,
        init_cfg: dict | list[dict] | None = None,
    ) -> None:
        super().__init__(init_cfg)
        if embed_dims % num_heads:
            raise ValueError(
                f'embed_dims ({embed_dims}) must be divisible by num_heads ({num_heads})'
            )
        self.embed_dims = embed_dims
        self.num_heads = num_heads
        self.window_size = window_size
        self.relative_position_bias_table = nn.Parameter(
            torch.zeros((2 * window_size - 1) ** 2, num_heads)
        )
        self.qkv = nn.Linear(embed_dims, embed_dims * 3, bias=qkv_bias)
        self.proj = nn.Linear(embed_dims, embed_dims)

    def forward(self, x: Tensor, window: int, shift: int) -> Tensor:
        """Attend within ``window x window`` windows of ``x`` (B, H, W, C), shifted by ``shift``."""
        B, H, W, C = x.shape
        pad_b, pad_r = (-H) % window, (-W) % window
        if pad_b or pad_r:
            x = F.pad(x, (0, 0, 0, pad_r, 0, pad_b))
        Hp, Wp = H + pad_b, W + pad_r
        if shift:
            x = torch.roll(x, shifts=(-shift, -shift), dims=(1, 2))
        nh, nw = Hp // window, Wp // window
        num_windows, N = nh * nw, window * window
        heads, head_dims = self.num_heads, C // self.num_heads

        # qkv on the whole map, then a single copy partitions it into
        # (3, B, windows, heads, N, d): both attention layouts below are views of it.
        qkv = self.qkv(x).view(B, nh, window, nw, window, 3, heads, head_dims)
        qkv = qkv.permute(5, 0, 1, 3, 6, 2, 4, 7).contiguous()

        # Under torch.compile the geometry is traced and constant-folded instead of cached.
        geometry = window_geometry.__wrapped__ if torch.compiler.is_compiling() else window_geometry
        index, mask = geometry(Hp, Wp, window, shift, self.window_size, x.device)
        bias = self.relative_position_bias_table[index].view(N, N, heads).permute(2, 0, 1)
        if mask is None:
            # Same bias for every window: windows go to the batch dimension.
            q, k, v = qkv.view(3, B * num_windows, heads, N, head_dims).unbind(0)
            attn_mask = bias.unsqueeze(0)
        else:
            # The mask differs per window: windows x heads share one dimension so the mask
            # broadcasts over the batch without being repeated.
            q, k, v = qkv.view(3, B, num_windows * heads, N, head_dims).unbind(0)
            attn_mask = (bias.unsqueeze(0) + mask.unsqueeze(1)).reshape(
                1, num_windows * heads, N, N
            )
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask.to(q.dtype))

        out = out.reshape(B, nh, nw, heads, window, window, head_dims)
        out = out.permute(0, 1, 4, 2, 5, 3, 6).reshape(B, Hp, Wp, C)
        out = self.proj(out)
        if shift:
            out = torch.roll(out, shifts=(shift, shift), dims=(1, 2))
        if pad_b or pad_r:
            out = out[:, :H, :W, :]
        return out
