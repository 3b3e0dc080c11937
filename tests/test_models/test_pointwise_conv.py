import pytest
import torch
from torch import nn

from dfvt_mm.models.layers import PointwiseConv2d


@pytest.mark.parametrize('bias', [True, False])
@pytest.mark.parametrize('channels_last', [True, False])
def test_equals_a_1x1_conv_forward_and_backward(bias, channels_last):
    torch.manual_seed(0)
    conv = nn.Conv2d(12, 20, 1, bias=bias)
    pointwise = PointwiseConv2d(12, 20, bias=bias)
    pointwise.load_state_dict(conv.state_dict())
    x = torch.randn(3, 12, 9, 7)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    grad_out = torch.randn(3, 20, 9, 7)
    outs, grads = [], []
    for module in (conv, pointwise):
        xi = x.clone().requires_grad_()
        out = module(xi)  # with autograd recording: the matrix-product path
        out.backward(grad_out)
        outs.append(out)
        grads.append([xi.grad] + [p.grad for p in module.parameters()])
        with torch.no_grad():  # inference: the conv path
            torch.testing.assert_close(module(x), out.detach(), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(outs[1], outs[0], atol=1e-5, rtol=1e-5)
    for a, b in zip(grads[1], grads[0]):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    if channels_last:  # the result stays channels_last: the next conv reads it in place
        assert outs[1].is_contiguous(memory_format=torch.channels_last)


def test_only_plain_1x1():
    assert set(PointwiseConv2d(4, 8).state_dict()) == {'weight', 'bias'}
    for kwargs in (dict(kernel_size=3), dict(stride=2), dict(groups=2)):
        with pytest.raises(ValueError, match='plain 1x1 conv'):
            PointwiseConv2d(4, 8, **kwargs)
