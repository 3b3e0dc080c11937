"""tools/visualization/vis_cam.py: Grad-CAM++ / Grad-CAM maps of the toy DFvT classifier."""

import math
import os.path as osp
import subprocess
import sys

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
# The toy config's test pipeline resizes to 64, where DFvT's last map is 2x2; at 128 it is 4x4,
# enough for the two methods' maps to differ in more than a corner.
OPTIONS = {
    'test_dataloader.dataset.pipeline.1.scale': SIZE,
    'test_dataloader.dataset.pipeline.2.crop_size': SIZE,
}


@pytest.fixture(scope='module')
def vis_cam():
    return load_tool('visualization', 'vis_cam.py')


@pytest.fixture(scope='module')
def toy(vis_cam, tmp_path_factory):
    """A randomly initialized toy classifier saved as a checkpoint, and a star image."""
    root = tmp_path_factory.mktemp('vis_cam')
    torch.manual_seed(0)
    with pytest.warns(UserWarning, match='randomly initialized'):
        model, _, classes = vis_cam.build_classifier(CONFIG, None, cfg_options=OPTIONS)
    assert classes == ['circle', 'cross', 'square', 'star', 'triangle']
    ckpt = root / 'toy.pth'
    meta = dict(dataset_meta=dict(classes=classes))
    torch.save(dict(state_dict=model.state_dict(), meta=meta), ckpt)

    rng = np.random.default_rng(0)
    img = random_background(rng, SIZE, SIZE)
    draw_polygon(img, shape_polygon('star', (52.0, 70.0), 36.0, 0.3), (40, 220, 40))
    img_path = root / 'star.png'
    cv2.imwrite(str(img_path), img)
    return dict(ckpt=str(ckpt), img=str(img_path), root=root)


@pytest.fixture(scope='module')
def loaded(vis_cam, toy):
    model, cfg, classes = vis_cam.build_classifier(CONFIG, toy['ckpt'], cfg_options=OPTIONS)
    inputs, src = vis_cam.load_image(model, cfg, toy['img'])
    return model, inputs, src, classes


def test_cli_saves_the_overlays(vis_cam, toy, loaded):
    """One run draws both methods (each tool start costs ~7 s of imports)."""
    model, inputs, _, classes = loaded
    out = toy['root'] / 'cam.png'
    options = [f'{k}={v}' for k, v in OPTIONS.items()]
    cmd = [sys.executable, TOOL, toy['img'], CONFIG, toy['ckpt'], '--method', 'gradcam++']
    cmd += ['gradcam', '--save-path', str(out), '--device', 'cpu', '--cfg-options', *options]
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO_ROOT)
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    pred, _ = vis_cam.predict(model, inputs)
    assert f'predicted {classes[pred]} (class {pred}' in result.stdout
    name = classes[pred]
    assert f'input | Grad-CAM++ of {name} | Grad-CAM of {name} to {out}' in result.stdout
    assert out.stat().st_size > 0
    picture = cv2.imread(str(out))
    # The input and two overlays side by side, each upscaled by a whole factor to >= 224 pixels.
    scale = math.ceil(224 / SIZE)
    assert picture.shape == (SIZE * scale, 3 * SIZE * scale, 3)
    # The overlays are not the input: the heat map is there.
    panels = np.split(picture.astype(int), 3, axis=1)
    assert np.abs(panels[1] - panels[0]).mean() > 20
    assert np.abs(panels[2] - panels[1]).max() > 20


def test_cam_maps(vis_cam, loaded):
    model, inputs, src, _ = loaded
    assert src.shape == (SIZE, SIZE, 3) and tuple(inputs.shape) == (1, 3, SIZE, SIZE)
    assert vis_cam.default_target_layers(model) == ['backbone.norm3']
    maps = {m: vis_cam.compute_cam(model, inputs, method=m) for m in ('gradcam++', 'gradcam')}
    for cam in maps.values():
        assert cam.shape == (SIZE, SIZE) and cam.dtype == np.float32
        assert cam.min() >= 0 and cam.max() <= 1
        assert cam.max() > 0.99 and cam.std() > 0.05  # normalized, and not constant
    assert np.abs(maps['gradcam++'] - maps['gradcam']).max() > 0.05
    # The default target is the predicted class.
    pred, _ = vis_cam.predict(model, inputs)
    explicit = vis_cam.compute_cam(model, inputs, target_category=pred)
    np.testing.assert_allclose(explicit, maps['gradcam++'], atol=1e-6)


def test_channels_last_and_token_maps_become_nchw(vis_cam):
    grids = vis_cam.feature_grids(64, 96)  # stride 32: 2 x 3
    x = torch.randn(1, 8, 2, 3)
    assert vis_cam.to_nchw(x, grids) is x
    assert torch.equal(vis_cam.to_nchw(x.permute(0, 2, 3, 1), grids), x)
    assert torch.equal(vis_cam.to_nchw(x.flatten(2).transpose(1, 2), grids), x)
    with pytest.raises(ValueError, match=r'shape \(1, 8, 5\)'):
        vis_cam.to_nchw(torch.randn(1, 8, 5), grids)


def test_errors_name_the_problem(vis_cam, loaded):
    model, inputs, _, _ = loaded
    with pytest.raises(ValueError, match=r"unknown target layer 'backbone.norm9'.*backbone.norm3"):
        vis_cam.compute_cam(model, inputs, target_layers=['backbone.norm9'])
    with pytest.raises(ValueError, match=r"unknown CAM method 'scorecam'.*gradcam\+\+"):
        vis_cam.compute_cam(model, inputs, method='scorecam')
    # A whole stage returns (tokens, local map): not one feature map.
    with pytest.raises(TypeError, match='outputs tuple'):
        vis_cam.compute_cam(model, inputs, target_layers=['backbone.stages.3'])
