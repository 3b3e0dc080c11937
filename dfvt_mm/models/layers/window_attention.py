"""Swin-style (shifted) window self-attention on ``scaled_dot_product_attention``.

Window geometry lives with the module or is made in the call, never in a process-wide cache (a
cache shared across models, devices and dtypes handed tensors made under ``torch.inference_mode``
to autograd later). The relative-position index of the full window depends only on the window, so
it is a non-persistent buffer: it follows ``.to()``, stays out of state dicts and is an ordinary
tensor whatever mode the forward runs in. A smaller window (the classification layout on small
maps), the token order of shifted windows and the shift mask depend on the map size, so they are
made in each call, from a few index operations that are small next to the attention itself (the
mask has one entry per attention logit of one image and head).

Traced for an ONNX export, the map's sizes are tensors, so the padding, the token order and the
mask become graph operations on the input's size, and one graph runs at any size. Only a Python
decision on a size would be frozen at the traced size: traced, the map is padded and cropped
back whether or not it needs it (a zero pad and a full crop change nothing), and the one-window
shortcut is not taken.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor, nn

# Swin's value for "different region after the cyclic shift"; kept for parity with released weights.
SHIFT_MASK_VALUE = -100.0


def relative_position_index(
    window: int, table_window: int, device: torch.device | str | None = None
) -> Tensor:
    """Index into a ``(2 * table_window - 1) ** 2`` bias table for every query/key pair of a window.

    A window smaller than the table's (classification on maps under 7x7) uses the centre of the
    table: its relative offsets are a subset of the table's.

    Args:
        window: Side of the attention window.
        table_window: Window the bias table was made for.
        device: Where to make the index.

    Returns:
        Long tensor of shape ``(window**2 * window**2,)``.
    """
    if window > table_window:
        raise ValueError(f'window {window} is larger than the bias table window {table_window}')
    coords = torch.arange(window, device=device)
    coords = torch.stack(torch.meshgrid(coords, coords, indexing='ij')).flatten(1)  # 2, N
    rel = coords[:, :, None] - coords[:, None, :] + (table_window - 1)  # 2, N, N; offsets >= 0
    return (rel[0] * (2 * table_window - 1) + rel[1]).flatten()


def shift_window_mask(
    height: int, width: int, window: int, shift: int, device: torch.device | str | None = None
) -> Tensor:
    """Swin's attention mask for a cyclically shifted, padded ``height x width`` map.

    After the shift by ``-shift`` the rows fall into three regions (``[0, H - window)``,
    ``[H - window, H - shift)``, ``[H - shift, H)``), the columns too; tokens attend only within
    their region.

    Returns:
        Float tensor ``(num_windows, window**2, window**2)``: 0 within a region, -100 across
        regions.
    """

    def regions(n: int) -> Tensor:
        index = torch.arange(n, device=device)
        return (index >= n - window).long() + (index >= n - shift).long()

    region = regions(height)[:, None] * 3 + regions(width)
    windows = region.view(height // window, window, width // window, window).transpose(1, 2)
    windows = windows.reshape(-1, window * window)
    mask = windows[:, None, :] != windows[:, :, None]
    return mask.float() * SHIFT_MASK_VALUE


def shifted_window_order(
    height: int, width: int, window: int, shift: int, device: torch.device | str | None = None
) -> Tensor:
    """Where each token of each window of a map rolled by ``-shift`` sits in the unrolled map.

    Gathering the flattened map with this index does ``torch.roll`` and the window partition in
    one copy (``torch.roll`` over two dims alone copies the map twice).

    Returns:
        Long tensor ``(num_windows, window**2)`` of flat positions in the ``height x width`` map.
    """
    rows = (torch.arange(height, device=device) + shift) % height
    cols = (torch.arange(width, device=device) + shift) % width
    position = rows[:, None] * width + cols
    position = position.view(height // window, window, width // window, window).transpose(1, 2)
    return position.reshape(-1, window * window)


class _PermuteTokens(torch.autograd.Function):
    """``x.index_select(1, order)`` for a permutation ``order`` whose gradient is a gather with
    the inverse permutation (autograd's generic ``index_add`` backward is several times slower
    on CPUs)."""

    @staticmethod
    def forward(x: Tensor, order: Tensor, inverse: Tensor) -> Tensor:
        return x.index_select(1, order)

    @staticmethod
    def setup_context(ctx, inputs: tuple, output: Tensor) -> None:
        ctx.save_for_backward(inputs[2])

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None, None]:
        (inverse,) = ctx.saved_tensors
        return grad.index_select(1, inverse), None, None


def permute_tokens(x: Tensor, order: Tensor, inverse: Tensor) -> Tensor:
    """Reorder the tokens (dim 1) of ``x`` by the permutation ``order`` (``inverse`` undoes it)."""
    if torch.jit.is_tracing() or not (torch.is_grad_enabled() and x.requires_grad):
        # Nothing to differentiate, or an exporter tracing the graph (it cannot trace an
        # autograd.Function): the plain gather.
        return x.index_select(1, order)
    return _PermuteTokens.apply(x, order, inverse)


def window_attention(q: Tensor, k: Tensor, v: Tensor, attn_mask: Tensor) -> Tensor:
    """``scaled_dot_product_attention`` with an additive mask, fastest way for the case at hand.

    When the mask needs a gradient (training: it holds the learnable relative position bias),
    torch's fused CPU kernel cannot be used and torch falls back to its math path, whose
    "safe" softmax costs extra passes; the plain computation written out here trains faster
    (1.1-1.4x on the attention, measured on CPU). The ONNX export traces the same formula:
    mmdeploy's rewrite of ``scaled_dot_product_attention`` adds a training-mode Dropout node
    (p = 0), which OpenVINO refuses from opset 12 on, and scales the (N, N) weights instead of
    the queries. Otherwise the fused kernel runs.
    """
    plain = q.device.type == 'cpu' and attn_mask.requires_grad and torch.is_grad_enabled()
    if plain or torch.onnx.is_in_onnx_export():
        attn = (q * q.shape[-1] ** -0.5) @ k.transpose(-2, -1) + attn_mask
        return attn.softmax(dim=-1) @ v
    return F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)


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
        # Derived from the window alone: not part of checkpoints (the authors' saved copies are
        # dropped by the converter), so old and new checkpoints load alike.
        self.register_buffer(
            'relative_position_index',
            relative_position_index(window_size, window_size),
            persistent=False,
        )
        self.qkv = nn.Linear(embed_dims, embed_dims * 3, bias=qkv_bias)
        self.proj = nn.Linear(embed_dims, embed_dims)

    def relative_position_bias(self, window: int) -> Tensor:
        """The bias ``(heads, window**2, window**2)`` of a ``window x window`` window."""
        if window == self.window_size:
            index = self.relative_position_index
        else:
            index = relative_position_index(
                window, self.window_size, device=self.relative_position_index.device
            )
        N = window * window
        # Gathered from the transposed table so that the result is contiguous per head.
        return self.relative_position_bias_table.t().index_select(1, index).view(-1, N, N)

    def forward(self, x: Tensor, window: int, shift: int) -> Tensor:
        """Attend within ``window x window`` windows of ``x`` (B, H, W, C), shifted by ``shift``."""
        H, W = x.shape[1:3]
        pad_b, pad_r = (-H) % window, (-W) % window
        traced = torch.jit.is_tracing()  # sizes are tensors: no `if` on them (module docstring)
        padded = traced or pad_b > 0 or pad_r > 0
        if padded:
            x = F.pad(x, (0, 0, 0, pad_r, 0, pad_b))
        bias = self.relative_position_bias(window)
        if shift:
            out = self._shifted(x, bias, window, shift)
        else:
            one_window = not traced and H + pad_b == window and W + pad_r == window
            out = self._unshifted(x, bias, window, one_window)
        return out[:, :H, :W, :] if padded else out

    def _unshifted(self, x: Tensor, bias: Tensor, window: int, one_window: bool) -> Tensor:
        """Plain windows of the padded map ``x`` (B, Hp, Wp, C); ``one_window``: the map is one
        window (then the partition is a reshape)."""
        B, Hp, Wp, C = x.shape
        nh, nw = Hp // window, Wp // window
        N, heads, head_dims = window * window, self.num_heads, C // self.num_heads
        # The windows are partitioned before the qkv projection (C channels to copy, not 3C);
        # q, k and v are then strided views that the attention kernel reads in place.
        if one_window:
            windows = x.reshape(B, N, C)
        else:
            windows = x.view(B, nh, window, nw, window, C).transpose(2, 3).reshape(-1, N, C)
        qkv = self.qkv(windows).view(-1, N, 3, heads, head_dims).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        # Same bias for every window: windows share the batch dimension.
        out = window_attention(q, k, v, bias.unsqueeze(0).to(q.dtype))
        out = self.proj(out.transpose(1, 2).reshape(-1, N, C))
        if one_window:
            return out.view(B, Hp, Wp, C)
        return out.view(B, nh, nw, window, window, C).transpose(2, 3).reshape(B, Hp, Wp, C)

    def _shifted(self, x: Tensor, bias: Tensor, window: int, shift: int) -> Tensor:
        """Shifted windows of the padded map ``x`` (B, Hp, Wp, C)."""
        B, Hp, Wp, C = x.shape
        N, heads, head_dims = window * window, self.num_heads, C // self.num_heads
        # The mask differs per window, so windows and heads share one dimension (the mask then
        # broadcasts over the batch). With tokens ordered (token, window), q, k and v of shape
        # (B, windows * heads, N, d) are views of three projections, not a copy of one.
        order = shifted_window_order(Hp, Wp, window, shift, device=x.device).t().flatten()
        inverse = torch.empty_like(order)
        inverse[order] = torch.arange(order.numel(), device=x.device)
        tokens = permute_tokens(x.reshape(B, Hp * Wp, C), order, inverse)  # (B, N * windows, C)
        num_windows = order.numel() // N
        q, k, v = (
            F.linear(tokens, w, b).view(B, N, num_windows * heads, head_dims).transpose(1, 2)
            for w, b in zip(
                self.qkv.weight.chunk(3),
                self.qkv.bias.chunk(3) if self.qkv.bias is not None else (None,) * 3,
            )
        )
        mask = shift_window_mask(Hp, Wp, window, shift, device=x.device)
        attn_mask = (bias.unsqueeze(0) + mask.unsqueeze(1)).view(1, num_windows * heads, N, N)
        out = window_attention(q, k, v, attn_mask.to(q.dtype))
        out = self.proj(out.transpose(1, 2).reshape(B, N * num_windows, C))
        return permute_tokens(out, inverse, order).view(B, Hp, Wp, C)
