"""One exported graph for every image size: DFvT's backbone and the dynamic-size deploy configs
(configs/deploy/*_dynamic.py), with random (seeded) weights.

Each graph is exported once, with height and width dynamic, and run at its export size and at
others, odd ones included, against PyTorch with the limits of the fixed-size checks. A graph
exported with fixed height and width refuses a second size; the dynamic one takes it.
"""

import numpy as np
import pytest
import torch

pytest.importorskip('onnxruntime', reason='deploy extras not installed (requirements/deploy.txt)')
pytest.importorskip('mmdeploy', reason='mmdeploy not installed (tools/bootstrap.sh)')

from dfvt_mm.deployment import (  # noqa: E402
    OnnxRuntimeModel,
    check_onnx,
    export_module_onnx,
    load_deploy_configs,
)
from dfvt_mm.models import DFvT  # noqa: E402
from tests.test_deploy.test_deploy import CFG_OPTIONS, export_toy, toy_paths  # noqa: E402

#: (task, backend) -> its dynamic-size deploy config.
DYNAMIC = {
    ('seg', 'onnxruntime'): 'segmentation_onnxruntime_dynamic.py',
    ('det', 'onnxruntime'): 'instance-seg_onnxruntime_dynamic.py',
    ('seg', 'openvino'): 'segmentation_openvino_dynamic.py',
    ('det', 'openvino'): 'instance-seg_openvino_dynamic.py',
}
# (H, W) besides the backbone's export size 64x64: odd sides, wide and tall, larger and smaller.
SIZES = [(61, 83), (96, 96), (127, 45)]


def _paths(task: str, backend: str = 'onnxruntime') -> tuple[str, str]:
    return toy_paths(task, DYNAMIC[(task, backend)])


@pytest.fixture(scope='module')
def backbone(tmp_path_factory):
    """The detection/segmentation DFvT-T (four outputs, ``pad_small_map``) with seeded weights,
    exported at 64x64 once with height and width dynamic and once fixed."""
    torch.manual_seed(0)
    model = DFvT(arch='tiny', out_indices=(0, 1, 2, 3), pad_small_map=True)
    model.init_weights()
    model.eval()
    tmp = tmp_path_factory.mktemp('dynamic_backbone')
    deploy_cfg = _paths('seg')[0]
    x = torch.rand(1, 3, 64, 64)
    dynamic = export_module_onnx(model, x, str(tmp / 'dynamic.onnx'), deploy_cfg, dynamic_size=True)
    fixed = export_module_onnx(model, x, str(tmp / 'fixed.onnx'), deploy_cfg)
    return model, dynamic, fixed


def _max_differences(model: torch.nn.Module, run, size: tuple[int, int]) -> list[float]:
    """max |graph - PyTorch| of each output on a batch of 2 of ``size``."""
    x = torch.rand(2, 3, *size, generator=torch.Generator().manual_seed(size[0] * size[1]))
    with torch.no_grad():
        expected = model(x)
    outputs = list(run(x).values())
    assert [out.shape for out in outputs] == [tuple(ref.shape) for ref in expected]
    return [float(np.abs(out - ref.numpy()).max()) for out, ref in zip(outputs, expected)]


def test_backbone_graph_takes_any_size(backbone):
    """The padding to the stem's stride, to even sizes (space-to-depth) and to the windows, the
    shifted windows' order and masks are graph operations on the input's size."""
    model, dynamic, _ = backbone
    runtime = OnnxRuntimeModel(dynamic)
    for size in [(64, 64), *SIZES]:
        differences = _max_differences(model, runtime, size)
        assert max(differences) <= 1e-4, (size, differences)


def test_fixed_graph_refuses_another_size(backbone):
    """What every export did before the dynamic configs: the size is part of the graph."""
    from onnxruntime.capi.onnxruntime_pybind11_state import InvalidArgument

    model, _, fixed = backbone
    runtime = OnnxRuntimeModel(fixed)
    assert max(_max_differences(model, runtime, (64, 64))) <= 1e-4
    with pytest.raises(InvalidArgument, match='invalid dimensions'):
        runtime(torch.rand(1, 3, *SIZES[0]))


def test_backbone_graph_takes_any_size_in_openvino(backbone, tmp_path):
    pytest.importorskip('openvino', reason='deploy extras not installed (requirements/deploy.txt)')
    from dfvt_mm.deployment import OpenVINOModel, to_openvino

    model, dynamic, _ = backbone
    runtime = OpenVINOModel(to_openvino(dynamic, str(tmp_path / 'dynamic.xml')), precision='fp32')
    for size in [(64, 64), *SIZES]:
        differences = _max_differences(model, runtime, size)
        assert max(differences) <= 1e-4, (size, differences)


@pytest.fixture(params=list(DYNAMIC), ids='-'.join)
def exported(request, tmp_path_factory):
    """(task, backend, ONNX file, checkpoint, image, the file the backend runs)."""
    task, backend = request.param
    if backend == 'openvino':
        pytest.importorskip('openvino', reason='deploy extras not installed')
    _, onnx_file, checkpoint, image = export_toy(task, tmp_path_factory, DYNAMIC[request.param])
    backend_file = onnx_file
    if backend == 'openvino':
        from dfvt_mm.deployment import to_openvino

        backend_file = to_openvino(onnx_file)
    return task, backend, onnx_file, checkpoint, image, backend_file


def test_graph_names_height_and_width(exported):
    import onnx

    _, _, onnx_file, *_ = exported
    dims = onnx.load(onnx_file).graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_param or d.dim_value for d in dims] == ['batch', 3, 'height', 'width']


def test_dynamic_export_matches_pytorch_at_every_size(exported):
    """check_onnx runs the graph at the export image's size and at the config's check_shapes
    (resized images; Mask R-CNN's preprocessor pads them to 32), at batch 1 and 2. UperNet's
    pyramid pooling makes its bins from the traced size (with bins of the export size its seg
    logits were 0.18-0.58 off at the other sizes). OpenVINO compiles the IR for each of these
    shapes (OpenVINOModel's static shapes), onnxruntime runs the one graph."""
    task, backend, onnx_file, checkpoint, image, backend_file = exported
    deploy_cfg, model_cfg = _paths(task, backend)
    checks = check_onnx(
        onnx_file, deploy_cfg, model_cfg, checkpoint, image, cfg_options=CFG_OPTIONS,
        backend_file=backend_file,
    )  # fmt: skip
    failed = [(c.name, c.value, c.limit) for c in checks if c.passed is False]
    assert not failed, failed
    by_name = {check.name: check for check in checks}
    labels = {name.split(', ', 1)[1] for name in by_name}
    sizes = {label.split(', ')[0] for label in labels}
    assert labels == {f'{size}, batch {n}' for size in sizes for n in (1, 2)}
    shapes = load_deploy_configs(deploy_cfg, model_cfg, CFG_OPTIONS)[0].check_shapes
    assert len(sizes) == len(shapes) + 1 >= 4
    if task == 'seg':
        # The label map has the size of the resized image itself: odd sides included.
        assert {f'{h}x{w}' for w, h in shapes} < sizes
        for label in labels:
            assert by_name[f'seg logits, {label}'].value <= 1e-4
            assert by_name[f'label pixels differing, {label}'].value == 0
    else:
        assert {'64x96', '96x96', '128x64'} < sizes
        for label in labels:
            assert by_name[f'unmatched detections, {label}'].value == 0
            assert by_name[f'box corners, {label}'].value <= 0.01
            assert by_name[f'masks, {label}'].value <= 0.01
        # Random weights still give detections (else the box and mask checks compare nothing).
        assert any(
            not by_name[f'unmatched detections, {label}'].detail.startswith('0 matched')
            for label in labels
        )


def test_dynamic_config_needs_check_shapes(tmp_path):
    """A graph of any size is checked at several: a dynamic config without sizes is refused."""
    deploy_cfg, model_cfg = _paths('seg')
    without = tmp_path / 'without_shapes.py'
    without.write_text(f"_base_ = ['{deploy_cfg}']\ncheck_shapes = []\n")
    with pytest.raises(ValueError, match='check_shapes must list'):
        load_deploy_configs(str(without), model_cfg, CFG_OPTIONS)
