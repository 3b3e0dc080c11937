"""Deployment through mmdeploy to onnxruntime: export and check each task on the toy configs.

Each model is built from its toy config with random (seeded) weights saved to a temporary
checkpoint, exported with a deploy config of configs/deploy/, and checked in onnxruntime against
PyTorch at batch 1 and 2 through the same ONNX file.
"""

import json
import os.path as osp

import numpy as np
import pytest
import torch

pytest.importorskip('onnxruntime', reason='deploy extras not installed (requirements/deploy.txt)')
pytest.importorskip('mmdeploy', reason='mmdeploy not installed (tools/bootstrap.sh)')

from mmdeploy.core import FUNCTION_REWRITER  # noqa: E402
from mmengine.config import Config  # noqa: E402
from mmengine.registry import MODELS, DefaultScope, init_default_scope  # noqa: E402

import dfvt_mm  # noqa: E402, F401
from dfvt_mm.deployment import (  # noqa: E402
    OnnxRuntimeModel,
    adaptive_avg_pool2d_static,
    check_onnx,
    export_onnx,
    save_random_checkpoint,
    torchscript_onnx_export,
)
from dfvt_mm.models import DFvT  # noqa: E402
from tests.conftest import REPO_ROOT, load_tool  # noqa: E402

TASKS = {
    # task: (deploy config, toy model config, scope, image height, width)
    'cls': (
        'classification_onnxruntime_dynamic-batch.py',
        'dfvt_t_toy_in1k.py',
        'mmpretrain',
        72,
        80,
    ),
    'seg': (
        'segmentation_onnxruntime_dynamic-batch.py',
        'upernet_dfvt_t_toy_ade20k.py',
        'mmseg',
        96,
        96,
    ),
    'det': (
        'instance-seg_onnxruntime_dynamic-batch.py',
        'mask_rcnn_dfvt_t_toy_coco.py',
        'mmdet',
        128,
        176,
    ),
}
# The toy configs name a pretrained classifier; the tests start from random weights.
CFG_OPTIONS = {'model.backbone.init_cfg': None}


DEPLOY_DIR = osp.join(REPO_ROOT, 'configs', 'deploy')


def toy_paths(task: str, deploy: str | None = None) -> tuple[str, str]:
    """A deploy config of configs/deploy/ (default: the task's onnxruntime one in
    :data:`TASKS`) and the task's toy model config."""
    deploy_file, model_file, *_ = TASKS[task]
    return osp.join(DEPLOY_DIR, deploy or deploy_file), osp.join(
        REPO_ROOT, 'configs', 'toy', model_file
    )


def _save_random_checkpoint(task: str, path: str, seed: int = 0) -> None:
    save_random_checkpoint(*toy_paths(task), path, seed=seed, cfg_options=CFG_OPTIONS)


def _write_image(task: str, path: str) -> None:
    import cv2

    H, W = TASKS[task][3:]
    rng = np.random.RandomState(0)
    image = (rng.rand(H, W, 3) * 60 + 100).astype(np.uint8)
    # A few flat shapes, so that the image has structure as the toy datasets do.
    cv2.circle(image, (W // 3, H // 2), H // 5, (230, 40, 40), -1)
    cv2.rectangle(image, (W // 2, H // 4), (W // 2 + H // 3, H // 4 + H // 3), (30, 200, 60), -1)
    cv2.imwrite(path, image)


_EXPORTS: dict = {}


def export_toy(task: str, tmp_path_factory, deploy: str | None = None) -> tuple[str, str, str, str]:
    """(task, onnx file, checkpoint, image): the task's toy model with seeded random weights,
    exported with a deploy config (as :func:`toy_paths`) once per test session."""
    deploy_cfg, model_cfg = toy_paths(task, deploy)
    if deploy_cfg not in _EXPORTS:
        tmp = tmp_path_factory.mktemp(osp.splitext(osp.basename(deploy_cfg))[0])
        checkpoint, image = str(tmp / 'model.pth'), str(tmp / 'image.png')
        _save_random_checkpoint(task, checkpoint)
        _write_image(task, image)
        onnx_file = export_onnx(
            deploy_cfg, model_cfg, checkpoint, image, str(tmp / 'work'), cfg_options=CFG_OPTIONS
        )
        _EXPORTS[deploy_cfg] = (task, onnx_file, checkpoint, image)
    return _EXPORTS[deploy_cfg]


@pytest.fixture(params=list(TASKS))
def exported(request, tmp_path_factory):
    return export_toy(request.param, tmp_path_factory)


@pytest.fixture
def exported_classifier(tmp_path_factory):
    return export_toy('cls', tmp_path_factory)


def test_export_matches_pytorch(exported):
    task, onnx_file, checkpoint, image = exported
    deploy_cfg, model_cfg = toy_paths(task)
    checks = check_onnx(
        onnx_file, deploy_cfg, model_cfg, checkpoint, image, cfg_options=CFG_OPTIONS
    )
    by_name = {check.name: check for check in checks}
    failed = [(c.name, c.value, c.limit) for c in checks if c.passed is False]
    assert not failed, failed
    # Every check ran at batch 1 and at batch 2 (dynamic batch) through the same file.
    assert {name.rsplit(', ', 1)[1] for name in by_name} == {'batch 1', 'batch 2'}
    if task == 'cls':
        for n in (1, 2):
            assert by_name[f'logits, batch {n}'].value <= 1e-4
            assert by_name[f'top-1 classes differing, batch {n}'].value == 0
    elif task == 'seg':
        for n in (1, 2):
            assert by_name[f'seg logits, batch {n}'].value <= 1e-4
            assert by_name[f'label pixels differing, batch {n}'].value == 0
    else:
        for n in (1, 2):
            assert by_name[f'unmatched detections, batch {n}'].value == 0
            assert by_name[f'box corners, batch {n}'].value <= 0.01
            assert by_name[f'masks, batch {n}'].value <= 0.01
        # Random weights still give detections (else the box and mask checks compare nothing).
        assert not by_name['unmatched detections, batch 1'].detail.startswith('0 matched')


def test_dynamic_batch_static_size(exported):
    """Batch is a named (dynamic) axis of the graph; height and width are fixed numbers."""
    import onnx

    task, onnx_file, *_ = exported
    dims = onnx.load(onnx_file).graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param == 'batch'
    H, W = TASKS[task][3:]
    if task == 'cls':
        H = W = 64  # the toy test pipeline's centre crop
    if task == 'det':
        W = 192  # padded to a multiple of 32 by the data preprocessor
    assert [dims[1].dim_value, dims[2].dim_value, dims[3].dim_value] == [3, H, W]


def test_onnxruntime_model_runs_a_batch(exported_classifier):
    """OnnxRuntimeModel (what the benchmark uses) on a batch of 3, against PyTorch's scores."""
    task, onnx_file, checkpoint, _ = exported_classifier
    from mmengine.runner import load_checkpoint

    cfg = Config.fromfile(toy_paths(task)[1])
    cfg.merge_from_dict(CFG_OPTIONS)
    init_default_scope('mmpretrain')
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(cfg.model).eval()
    load_checkpoint(model, checkpoint, map_location='cpu')
    batch = torch.randn(3, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    outputs = OnnxRuntimeModel(onnx_file, threads=1)(batch)
    with torch.no_grad():
        scores = model(batch, mode='tensor').softmax(1).numpy()
    assert outputs['output'].shape == (3, 5)
    assert np.abs(outputs['output'] - scores).max() <= 1e-4


def test_dane_and_attention_export_as_formulas(exported_classifier):
    """DANE's gated sum is ``context + w * (spatial - context)`` in the graph, not torch's lerp
    export (a Where over two formulas), and nothing else in the classifier needs a Where. The
    window attention is its formula too, a Softmax between two MatMuls per stage, without the
    Dropout node of mmdeploy's attention rewrite (OpenVINO refuses it from opset 12)."""
    import onnx

    _, onnx_file, _, _ = exported_classifier
    ops = [node.op_type for node in onnx.load(onnx_file).graph.node]
    assert ops.count('Sigmoid') >= 2  # the toy DFvT's DANE gates are there
    assert 'Where' not in ops
    # One per attention block of the toy DFvT-T, and the classification scores'.
    assert ops.count('Softmax') == sum(DFvT.arch_zoo['tiny']['depths']) + 1
    assert 'Dropout' not in ops


@pytest.mark.parametrize('spinning', [False, True])
def test_onnxruntime_threads_spin_only_when_asked(exported_classifier, spinning):
    """Spinning workers would hold the cores PyTorch needs next in the same process."""
    _, onnx_file, _, _ = exported_classifier
    kwargs = {'spinning': True} if spinning else {}
    options = OnnxRuntimeModel(onnx_file, threads=2, **kwargs).session.get_session_options()
    assert options.get_session_config_entry('session.intra_op.allow_spinning') == str(int(spinning))
    assert options.intra_op_num_threads == 2


def test_check_fails_on_other_weights(exported_classifier, tmp_path):
    """A file exported from other weights fails the check; the command passes on its own export."""
    task, onnx_file, _, image = exported_classifier
    other = str(tmp_path / 'other.pth')
    _save_random_checkpoint(task, other, seed=1)
    deploy_cfg, model_cfg = toy_paths(task)
    checks = check_onnx(onnx_file, deploy_cfg, model_cfg, other, image, cfg_options=CFG_OPTIONS)
    assert {c.name for c in checks if c.passed is False} >= {'logits, batch 1', 'logits, batch 2'}

    # The command without a checkpoint: seeded random weights, saved once for export and check.
    deploy = load_tool('deployment', 'deploy.py')
    argv = [deploy_cfg, model_cfg, 'none', image, '--work-dir', str(tmp_path / 'cli')]
    argv += ['--cfg-options', 'model.backbone.init_cfg=None']
    assert deploy.main(argv) == 0
    assert osp.isfile(tmp_path / 'cli' / 'end2end.onnx')
    assert osp.isfile(tmp_path / 'cli' / 'random_weights.pth')
    with open(tmp_path / 'cli' / 'checks.json') as f:
        assert all(check['passed'] for check in json.load(f))


def test_bad_inputs_say_what_is_wrong(tmp_path):
    deploy_cfg, model_cfg = toy_paths('cls')
    with pytest.raises(FileNotFoundError, match='image .*missing.png does not exist'):
        export_onnx(deploy_cfg, model_cfg, None, str(tmp_path / 'missing.png'), str(tmp_path))
    wrong = tmp_path / 'tensorrt.py'
    wrong.write_text(f"_base_ = ['{deploy_cfg}']\nbackend_config = dict(type='tensorrt')\n")
    with pytest.raises(ValueError, match="backend_config.type is 'tensorrt'"):
        export_onnx(str(wrong), model_cfg, None, str(tmp_path / 'x.png'), str(tmp_path))


@pytest.mark.parametrize(
    'size, out',
    [((16, 16), (3, 3)), ((3, 3), (6, 6)), ((7, 5), (2, 3)), ((12, 12), (6, 6)), ((4, 4), 1)],
)
def test_adaptive_pooling_is_exact(size, out):
    """The onnxruntime rewriter of adaptive_avg_pool2d equals PyTorch's on sizes that do not
    divide (mmdeploy's default rewrite changes the bins there, or fails on maps smaller than the
    output)."""
    x = torch.randn(2, 4, *size, generator=torch.Generator().manual_seed(0))
    expected = torch.nn.functional.adaptive_avg_pool2d(x, out)
    assert torch.allclose(adaptive_avg_pool2d_static(x, out), expected, atol=1e-6)


def test_export_patch_is_scoped():
    import torch.onnx.symbolic_opset9 as symbolic_opset9

    export = torch.onnx.export
    had_cast_long = hasattr(symbolic_opset9, '_cast_Long')
    with torchscript_onnx_export():
        assert torch.onnx.export is not export
        assert hasattr(symbolic_opset9, '_cast_Long')
    assert torch.onnx.export is export
    assert hasattr(symbolic_opset9, '_cast_Long') == had_cast_long
    assert 'enter' not in vars(FUNCTION_REWRITER)


def test_an_export_leaves_other_models_working(exported_classifier):
    """mmdeploy's rewriter exit puts a rewritten staticmethod back as a plain function; after an
    export in the same process, mmpretrain's Swin (which it rewrites) must still run."""
    from mmpretrain.models import SwinTransformer
    from mmpretrain.models.utils import ShiftWindowMSA

    assert isinstance(vars(ShiftWindowMSA)['get_attn_mask'], staticmethod)
    swin = SwinTransformer(arch='tiny', img_size=64, pad_small_map=True)
    swin.eval()  # not chained: mmpretrain's SwinTransformer.train returns None
    with torch.no_grad():
        (out,) = swin(torch.rand(1, 3, 64, 64))
    assert out.shape == (1, 768, 2, 2)


def test_mmdeploy_custom_ops_run_in_this_onnxruntime():
    """mmdeploy's custom-op library (built for onnxruntime 1.15) loads in the installed
    onnxruntime and its grid_sampler equals PyTorch's grid_sample."""
    from onnx import TensorProto, helper

    from dfvt_mm.deployment.runtime import mmdeploy_custom_ops

    assert mmdeploy_custom_ops() is not None, "mmdeploy's wheel ships libmmdeploy_onnxruntime_ops"
    node = helper.make_node(
        'grid_sampler', ['x', 'grid'], ['y'], domain='mmdeploy', interpolation_mode=0,
        padding_mode=0, align_corners=0,
    )  # fmt: skip
    graph = helper.make_graph(
        [node],
        'grid_sample',
        [
            helper.make_tensor_value_info('x', TensorProto.FLOAT, [1, 2, 5, 6]),
            helper.make_tensor_value_info('grid', TensorProto.FLOAT, [1, 3, 4, 2]),
        ],
        [helper.make_tensor_value_info('y', TensorProto.FLOAT, None)],
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid('', 11), helper.make_opsetid('mmdeploy', 1)]
    )
    model.ir_version = 7
    session = OnnxRuntimeModel(model.SerializeToString(), custom_ops=True).session
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(1, 2, 5, 6, generator=generator)
    grid = torch.rand(1, 3, 4, 2, generator=generator) * 2 - 1
    (out,) = session.run(None, {'x': x.numpy(), 'grid': grid.numpy()})
    expected = torch.nn.functional.grid_sample(x, grid, align_corners=False)
    assert np.abs(out - expected.numpy()).max() <= 1e-5


def test_mask_check_allows_one_flipped_pixel():
    """A matched mask pair may differ in one pixel (a probability at the 0.5 threshold within
    float32 rounding), however small the mask; beyond it, the differing share of the union."""
    from mmdet.structures import DetDataSample
    from mmengine.structures import InstanceData

    from dfvt_mm.deployment.check import _compare_detections

    def result(mask: torch.Tensor) -> DetDataSample:
        sample = DetDataSample()
        sample.pred_instances = InstanceData(
            bboxes=torch.tensor([[0.0, 0.0, 8.0, 8.0]]), scores=torch.tensor([0.9]),
            labels=torch.tensor([0]), masks=mask[None],
        )  # fmt: skip
        return sample

    mask = torch.zeros(16, 16, dtype=torch.bool)
    mask[:5, :5] = True  # 25 pixels: one is 4 % of the union
    one, three = mask.clone(), mask.clone()
    one[0, 5] = True
    three[0, 5:8] = True
    assert _compare_detections([result(one)], [result(mask)])['mask'] == 0.0
    stats = _compare_detections([result(three)], [result(mask)])
    assert stats['matched'] == 1 and stats['mask'] == pytest.approx(2 / 28)
