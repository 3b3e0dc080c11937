import pytest
import torch
import torch.nn.functional as F

from dfvt_mm.models.layers import (
    WindowMSA,
    relative_position_index,
    shift_window_mask,
    shifted_window_order,
    window_attention,
)


def naive_swin_attention(attn: WindowMSA, x, window, shift):
    """Swin's reference computation, written out loop by loop over windows."""
    B, H, W, C = x.shape
    x = F.pad(x, (0, 0, 0, (-W) % window, 0, (-H) % window))
    Hp, Wp = x.shape[1:3]
    if shift:
        x = torch.roll(x, (-shift, -shift), (1, 2))
    mask = shift_window_mask(Hp, Wp, window, shift) if shift else None
    heads, d = attn.num_heads, C // attn.num_heads
    T = attn.window_size
    out = torch.zeros_like(x)
    w_idx = 0
    for i in range(0, Hp, window):
        for j in range(0, Wp, window):
            tokens = x[:, i : i + window, j : j + window].reshape(B, -1, C)
            qkv = attn.qkv(tokens).reshape(B, -1, 3, heads, d).permute(2, 0, 3, 1, 4)
            q, k, v = qkv[0] * d**-0.5, qkv[1], qkv[2]
            logits = q @ k.transpose(-2, -1)
            # bias for offsets (dy, dx) read directly from the (2T-1)^2 table
            for a in range(window * window):
                for b in range(window * window):
                    dy = a // window - b // window
                    dx = a % window - b % window
                    logits[:, :, a, b] += attn.relative_position_bias_table[
                        (dy + T - 1) * (2 * T - 1) + dx + T - 1
                    ]
            if mask is not None:
                logits = logits + mask[w_idx]
            o = (logits.softmax(-1) @ v).transpose(1, 2).reshape(B, window, window, C)
            out[:, i : i + window, j : j + window] = o
            w_idx += 1
    out = attn.proj(out)
    if shift:
        out = torch.roll(out, (shift, shift), (1, 2))
    return out[:, :H, :W]


@pytest.mark.parametrize(
    'size,window,shift',
    [
        ((7, 7), 7, 0),
        ((14, 14), 7, 3),
        ((9, 12), 7, 3),
        ((5, 5), 7, 3),
        ((5, 8), 5, 0),
        ((3, 3), 3, 0),
    ],
)
def test_matches_naive_swin(size, window, shift):
    torch.manual_seed(0)
    attn = WindowMSA(24, 3, window_size=7).eval()
    torch.nn.init.normal_(attn.relative_position_bias_table, std=0.5)
    x = torch.randn(2, *size, 24)
    with torch.no_grad():
        torch.testing.assert_close(
            attn(x, window, shift),
            naive_swin_attention(attn, x, window, shift),
            atol=1e-5,
            rtol=1e-5,
        )


def test_relative_position_index():
    index = relative_position_index(7, 7).view(49, 49)
    assert index.min() == 0 and index.max() == 168
    assert index[0, 0] == 84  # zero offset is the centre of the 13x13 table
    small = relative_position_index(3, 7).view(9, 9)
    assert small[0, 0] == 84 and small[0, 8] == (6 - 2) * 13 + 6 - 2
    with pytest.raises(ValueError):
        relative_position_index(9, 7)


def test_shift_mask_matches_swin():
    mask = shift_window_mask(14, 14, 7, 3)
    assert mask.shape == (4, 49, 49)
    assert not mask[0].any()  # top-left window is one region
    assert set(mask.unique().tolist()) == {0.0, -100.0}
    # The last window holds 4 regions of 4x4, 4x3, 3x4 and 3x3 tokens; each token sees its own.
    seen = sorted((mask[3][t] == 0).sum().item() for t in range(49))
    assert seen == [9] * 9 + [12] * 24 + [16] * 16


@pytest.mark.parametrize(
    'size,window,shift', [((14, 14), 7, 3), ((9, 12), 7, 3), ((9, 12), 7, 0), ((5, 8), 5, 0)]
)
def test_gradients_match_naive_swin(size, window, shift):
    """The training path (permutation gathers, the attention written out) has Swin's gradients."""
    torch.manual_seed(0)
    attn = WindowMSA(24, 3, window_size=7)
    torch.nn.init.normal_(attn.relative_position_bias_table, std=0.5)
    x = torch.randn(2, *size, 24, requires_grad=True)
    grad_out = torch.randn(2, *size, 24)
    attn(x, window, shift).backward(grad_out)
    grads = [x.grad] + [p.grad for p in attn.parameters()]
    x.grad = None
    attn.zero_grad(set_to_none=True)
    naive_swin_attention(attn, x, window, shift).backward(grad_out)
    expected = [x.grad] + [p.grad for p in attn.parameters()]
    for g, e in zip(grads, expected):
        torch.testing.assert_close(g, e, atol=1e-5, rtol=1e-5)


def test_shifted_window_order_is_roll_then_partition():
    H, W, window, shift = 14, 21, 7, 3
    x = torch.arange(H * W).view(H, W)
    rolled = torch.roll(x, (-shift, -shift), (0, 1))
    windows = rolled.view(H // window, window, W // window, window).transpose(1, 2)
    expected = windows.reshape(-1, window * window)
    assert torch.equal(shifted_window_order(H, W, window, shift), expected)


def test_shift_mask_matches_swin_loops():
    """The vectorised mask equals Swin's slice-by-slice construction."""
    for height, width, window, shift in ((14, 14, 7, 3), (7, 21, 7, 3), (10, 15, 5, 2)):
        img_mask = torch.zeros(height, width)
        cnt = 0
        for hs in (slice(0, -window), slice(-window, -shift), slice(-shift, None)):
            for ws in (slice(0, -window), slice(-window, -shift), slice(-shift, None)):
                img_mask[hs, ws] = cnt
                cnt += 1
        w = img_mask.view(height // window, window, width // window, window)
        w = w.permute(0, 2, 1, 3).reshape(-1, window * window)
        expected = (w[:, None, :] - w[:, :, None]).ne(0).float() * -100.0
        assert torch.equal(shift_window_mask(height, width, window, shift), expected)


def test_relative_position_index_is_a_non_persistent_buffer():
    attn = WindowMSA(24, 3, window_size=7)
    assert torch.equal(attn.relative_position_index, relative_position_index(7, 7))
    assert 'relative_position_index' not in attn.state_dict()
    assert attn.to(torch.float64).relative_position_index.dtype == torch.long


def test_training_attention_equals_the_fused_kernel():
    q, k, v = torch.randn(3, 4, 2, 49, 8).unbind(0)
    mask = torch.randn(1, 2, 49, 49, requires_grad=True)
    fused = F.scaled_dot_product_attention(q, k, v, attn_mask=mask.detach())
    torch.testing.assert_close(window_attention(q, k, v, mask), fused, atol=1e-5, rtol=1e-5)
