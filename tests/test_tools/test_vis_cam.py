"""tools/visualization/vis_cam.py: mmpretrain's Grad-CAM tool on the toy DFvT classifier."""

import argparse
import inspect
import os.path as osp
import subprocess
import sys
from functools import partial

import cv2
import numpy as np
import pytest
import torch

from dfvt_mm.toy.shapes import draw_polygon, random_background, shape_polygon
from tests.conftest import REPO_ROOT, load_tool

pytest.importorskip('pytorch_grad_cam')

TOOL = osp.join(REPO_ROOT, 'tools', 'visualization', 'vis_cam.py')
CONFIG = osp.join(REPO_ROOT, 'configs', 'toy', 'dfvt_t_toy_in1k.py')
SIZE = 128
# The toy config's test pipeline resizes to 64, where DFvT's last map is 2x2; at 128 it is 4x4.
OPTIONS = {
    'test_dataloader.dataset.pipeline.1.scale': SIZE,
    'test_dataloader.dataset.pipeline.2.crop_size': SIZE,
}


@pytest.fixture(scope='module')
def vis_cam():
    return load_tool('visualization', 'vis_cam.py')


@pytest.fixture(scope='module')
def toy(tmp_path_factory):
    """A randomly initialized toy classifier saved as a checkpoint, and a star image."""
    from mmengine.config import Config
    from mmpretrain.apis import get_model

    import dfvt_mm  # noqa: F401

    root = tmp_path_factory.mktemp('vis_cam')
    cfg = Config.fromfile(CONFIG)
    cfg.merge_from_dict(OPTIONS)
    torch.manual_seed(0)
    model = get_model(cfg)
    model.init_weights()
    ckpt = root / 'toy.pth'
    torch.save(dict(state_dict=model.state_dict(), meta={}), ckpt)

    rng = np.random.default_rng(0)
    img = random_background(rng, SIZE, SIZE)
    draw_polygon(img, shape_polygon('star', (52.0, 70.0), 36.0, 0.3), (40, 220, 40))
    img_path = root / 'star.png'
    cv2.imwrite(str(img_path), img)
    return dict(cfg=cfg, model=model.eval(), ckpt=str(ckpt), img=str(img_path), root=root)


def test_cli_saves_the_overlay(toy):
    out = toy['root'] / 'cam.png'
    options = [f'{k}={v}' for k, v in OPTIONS.items()]
    cmd = [sys.executable, TOOL, toy['img'], CONFIG, toy['ckpt'], '--method', 'GradCAM++']
    cmd += ['--save-path', str(out), '--cfg-options', *options]
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO_ROOT)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    # mmpretrain's default target: the backbone's last norm layer.
    assert 'Automatically choose the last norm layer "backbone.norm3"' in result.stdout
    picture = cv2.imread(str(out))
    assert picture.shape == (SIZE, SIZE, 3)  # the test pipeline's image, overlaid
    image = cv2.imread(toy['img'])
    assert np.abs(picture.astype(int) - image).mean() > 20  # the heat map is there


def hand_gradcam(model, inputs, category):
    """Grad-CAM of ``backbone.norm3`` by hand: the channel means of the score's gradient weight
    the (N, C, H, W) map; ReLU, min-max scaled and resized as grad-cam does."""
    held = {}
    hook = model.backbone.norm3.register_forward_hook(lambda m, i, o: held.update(out=o))
    score = model(inputs)[0, category]
    hook.remove()
    tokens = held['out']  # (N, H, W, C)
    (grad,) = torch.autograd.grad(score, tokens)
    weights = grad.permute(0, 3, 1, 2).mean(dim=(2, 3))
    cam = torch.relu((weights[:, :, None, None] * tokens.permute(0, 3, 1, 2)).sum(1))[0]
    cam = cam.detach().numpy()
    cam = (cam - cam.min()) / (cam.max() - cam.min() + 1e-7)
    return cv2.resize(cam, (SIZE, SIZE))


def test_gradcam_of_norm3_is_the_channels_first_map(vis_cam, toy):
    """The wrapper's Grad-CAM of ``backbone.norm3`` equals the one computed by hand on the map
    as (N, C, H, W)."""
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    model = toy['model']
    tool = vis_cam.patched_tool()
    args = argparse.Namespace(vit_like=False, num_extra_tokens=None)
    transform = partial(tool.reshape_transform, model=model, args=args)
    inputs = torch.randn(1, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(0))
    category = 3
    cam = tool.init_cam('gradcam', model, [model.backbone.norm3], False, transform)
    got = cam(inputs, [ClassifierOutputTarget(category)])[0]
    expected = hand_gradcam(model, inputs, category)
    assert got.shape == (SIZE, SIZE) and expected.std() > 0.05
    np.testing.assert_allclose(got, expected, atol=1e-4)


def test_channels_first(vis_cam):
    x = torch.randn(1, 384, 4, 4)
    assert torch.equal(vis_cam.channels_first(x.permute(0, 2, 3, 1), {384}), x)
    assert vis_cam.channels_first(x, {384}) is x  # already (N, C, H, W)
    assert vis_cam.channels_first(x, set()) is x  # no LayerNorm among the targets
    tokens = torch.randn(1, 16, 384)
    assert vis_cam.channels_first(tokens, {384}) is tokens  # mmpretrain's --vit-like handles it


def test_mmpretrain_tool_still_needs_the_fixes(vis_cam):
    """The two reasons for the wrapper (see its docstring). When one of these fails, the
    installed mmpretrain or grad-cam has changed: check whether the wrapper is still needed."""
    from pytorch_grad_cam import GradCAM

    tool = vis_cam.load_mmpretrain_tool()
    assert 'use_cuda=use_cuda' in inspect.getsource(tool.init_cam)
    assert 'use_cuda' not in inspect.signature(GradCAM.__init__).parameters
    # Its transform passes any 4-D tensor on as (N, C, H, W), channels-last ones included.
    nhwc = torch.randn(1, 4, 4, 384)
    args = argparse.Namespace(vit_like=False, num_extra_tokens=None)
    assert tool.reshape_transform(nhwc, None, args) is nhwc
