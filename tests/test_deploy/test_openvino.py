"""OpenVINO through mmdeploy: fp32 parity with PyTorch, bf16, int8 (NNCF) and the accuracy check,
on the toy configs with random (seeded) weights and tiny toy datasets.

Random weights check mechanics and what holds by construction: f32 parity within 1e-4, an fp32
model passing the accuracy check (it computes what PyTorch computes), a model with its classes
permuted failing it, calibration reading training images only. How int8 scores against the
limits is measured on trained models (tests/test_e2e/test_deploy_accuracy.py).
"""

import functools
import json
import os.path as osp

import numpy as np
import pytest
import torch

pytest.importorskip('openvino', reason='deploy extras not installed (requirements/deploy.txt)')
pytest.importorskip('nncf', reason='deploy extras not installed (requirements/deploy.txt)')
pytest.importorskip('mmdeploy', reason='mmdeploy not installed (tools/bootstrap.sh)')

from mmengine.config import Config  # noqa: E402

from dfvt_mm.deployment import (  # noqa: E402
    OpenVINOModel,
    bf16_unsupported_reason,
    calibration_inputs,
    check_accuracy,
    check_onnx,
    deploy_task,
    load_deploy_configs,
    openvino_core,
    quantize,
    to_openvino,
)
from dfvt_mm.deployment.data import dataloader_of, split_dataset  # noqa: E402
from dfvt_mm.deployment.export import build_pytorch_model, build_task_processor  # noqa: E402
from dfvt_mm.toy.data import write_ade20k, write_classification, write_coco  # noqa: E402
from dfvt_mm.utils.tasks import TASKS  # noqa: E402
from tests.conftest import load_tool  # noqa: E402
from tests.test_deploy.test_deploy import (  # noqa: E402
    CFG_OPTIONS,
    DEPLOY_DIR,
    _write_image,
    export_toy,
    toy_paths,
)

OPENVINO = {
    'cls': 'classification_openvino_dynamic-batch.py',
    'seg': 'segmentation_openvino_dynamic-batch.py',
    'det': 'instance-seg_openvino_dynamic-batch.py',
}
NO_BF16 = bf16_unsupported_reason()


def _paths(task: str) -> tuple[str, str]:
    return toy_paths(task, OPENVINO[task])


@pytest.fixture(scope='module')
def toy_data(tmp_path_factory):
    """Tiny toy datasets (the main job's writers, a few images per split), and the model config
    overrides that point the toy configs at them."""
    root = tmp_path_factory.mktemp('toy_data')
    write_classification(str(root / 'cls'), train_per_class=4, val_per_class=2)
    write_coco(str(root / 'det'), train=6, val=4)
    write_ade20k(str(root / 'seg'), train=4, val=3)
    options = {}
    for task in ('cls', 'det', 'seg'):
        options[task] = {
            **CFG_OPTIONS,
            **{f'{split}_dataloader.dataset.data_root': str(root / task) for split in SPLITS},
        }
    options['det']['val_evaluator.ann_file'] = str(
        root / 'det' / 'annotations' / 'instances_val2017.json'
    )
    return root, options


SPLITS = ('train', 'val', 'test')


@functools.cache
def _ir(onnx_file: str) -> str:
    return to_openvino(onnx_file)


def _export(task: str, tmp_path_factory) -> tuple[str, str, str, str, str]:
    """(task, onnx file, IR, checkpoint, image), exported and converted once per session."""
    task, onnx_file, checkpoint, image = export_toy(task, tmp_path_factory, OPENVINO[task])
    return task, onnx_file, _ir(onnx_file), checkpoint, image


@pytest.fixture(params=['cls', 'seg', 'det'])
def exported(request, tmp_path_factory):
    return _export(request.param, tmp_path_factory)


@pytest.fixture
def exported_classifier(tmp_path_factory):
    return _export('cls', tmp_path_factory)


def test_deploy_configs_load():
    """Every deploy config loads with the backend and the task (mmdeploy's name) that its file
    name says, and only OpenVINO takes bf16/int8."""
    import glob

    paths = sorted(glob.glob(osp.join(DEPLOY_DIR, '[!_]*.py')))
    assert len(paths) == 14
    for path in paths:
        deploy_name, backend, _ = osp.basename(path).split('_', 2)
        deploy_cfg, _ = load_deploy_configs(path, toy_paths('cls')[1], CFG_OPTIONS)
        assert TASKS[deploy_task(deploy_cfg)].deploy == deploy_name
        assert deploy_cfg.backend_config.type == backend
        assert deploy_cfg.onnx_config.opset_version == 11
    wrong = Config.fromfile(osp.join(DEPLOY_DIR, 'classification_onnxruntime_dynamic-batch.py'))
    wrong.backend_config.precision = 'int8'
    with pytest.raises(ValueError, match="precision 'int8'; onnxruntime runs fp32"):
        load_deploy_configs(wrong, _paths('cls')[1])


def test_openvino_fp32_matches_pytorch(exported):
    """The IR in f32 against PyTorch, with the checks of the onnxruntime export: logits within
    1e-4 and the same classes, label maps, detections and masks, at batch 1 and 2."""
    task, onnx_file, xml_file, checkpoint, image = exported
    checks = check_onnx(
        onnx_file, *_paths(task), checkpoint, image, cfg_options=CFG_OPTIONS, backend_file=xml_file
    )
    by_name = {check.name: check for check in checks}
    failed = [(c.name, c.value, c.limit) for c in checks if c.passed is False]
    assert not failed, failed
    assert {name.rsplit(', ', 1)[1] for name in by_name} == {'batch 1', 'batch 2'}
    limited = [c for c in checks if c.limit is not None]
    assert len(limited) >= 4 and all(c.passed for c in limited)
    if task == 'det':
        assert not by_name['unmatched detections, batch 1'].detail.startswith('0 matched')


def test_openvino_keeps_f32_weights_and_dynamic_batch(exported_classifier):
    import openvino as ov

    _, _, xml_file, _, _ = exported_classifier
    model = openvino_core().read_model(xml_file)
    constants = [op for op in model.get_ops() if op.get_type_name() == 'Constant']
    assert not [op for op in constants if op.get_element_type() == ov.Type.f16]
    assert model.inputs[0].get_partial_shape()[0].is_dynamic
    assert [int(d.get_length()) for d in model.inputs[0].get_partial_shape()[1:]] == [3, 64, 64]


def test_fp32_forces_f32(exported_classifier):
    """Without a hint OpenVINO runs bf16 where the CPU has it; fp32 must be f32 everywhere."""
    _, _, xml_file, _, _ = exported_classifier
    model = OpenVINOModel(xml_file, precision='fp32')
    assert model.inference_precision == 'f32'
    batch = torch.randn(3, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    assert model(batch)['output'].shape == (3, 5)


def test_dynamic_graph_compiles_per_input_shape(exported_classifier, monkeypatch):
    """The dynamic-batch IR is compiled static for each batch shape it meets, the last
    OPENVINO_SHAPES_KEPT kept; the outputs are those of the graph compiled dynamic."""
    from dfvt_mm.deployment import runtime

    _, _, xml_file, _, _ = exported_classifier
    monkeypatch.setattr(runtime, 'OPENVINO_SHAPES_KEPT', 2)
    static = OpenVINOModel(xml_file, precision='fp32')
    dynamic = OpenVINOModel(xml_file, precision='fp32', static_shapes=False)
    assert static.compiled_shapes == [] and dynamic.compiled_shapes == []
    gen = torch.Generator().manual_seed(2)
    batches = [torch.randn(n, 3, 64, 64, generator=gen) for n in (3, 1, 3, 2)]
    for batch in batches:
        np.testing.assert_allclose(
            static(batch)['output'], dynamic(batch)['output'], rtol=0, atol=1e-4
        )
    # Batch 3 was used again after batch 1, so batch 1 went first.
    assert static.compiled_shapes == [(3, 3, 64, 64), (2, 3, 64, 64)]
    assert [d.is_static for d in static.compiled.inputs[0].get_partial_shape()] == [True] * 4
    assert dynamic.compiled.inputs[0].get_partial_shape()[0].is_dynamic
    assert dynamic.compiled_shapes == []


@pytest.mark.skipif(NO_BF16 is None, reason='this CPU runs bf16 in OpenVINO')
def test_bf16_without_bf16_cpu_runs_f32(exported_classifier):
    _, _, xml_file, _, _ = exported_classifier
    model = OpenVINOModel(xml_file, precision='bf16')
    assert model.inference_precision == 'f32'
    assert model.note == NO_BF16 and NO_BF16.endswith('bf16 runs as f32')


@pytest.mark.skipif(NO_BF16 is not None, reason=str(NO_BF16))
def test_bf16_runs_bf16_and_checks_for_information(exported_classifier):
    task, onnx_file, xml_file, checkpoint, image = exported_classifier
    assert OpenVINOModel(xml_file, precision='bf16').inference_precision == 'bf16'
    deploy_cfg = Config.fromfile(_paths(task)[0])
    deploy_cfg.backend_config.precision = 'bf16'
    checks = check_onnx(
        onnx_file, deploy_cfg, _paths(task)[1], checkpoint, image, cfg_options=CFG_OPTIONS,
        backend_file=xml_file,
    )  # fmt: skip
    assert checks and all(c.limit is None for c in checks)
    assert all(np.isfinite(c.value) for c in checks)


def test_int8_calibrates_on_training_images(exported_classifier, toy_data):
    """NNCF quantizes the IR on training images through the test pipeline; the int8 IR runs
    a batch; the image checks are reported without the f32 limits."""
    task, onnx_file, xml_file, checkpoint, image = exported_classifier
    root, options = toy_data
    deploy_cfg, model_cfg = load_deploy_configs(_paths(task)[0], _paths(task)[1], options['cls'])
    processor = build_task_processor(deploy_cfg, model_cfg)
    inputs, files = calibration_inputs(processor, deploy_cfg, xml_file, num_images=8, seed=0)
    assert len(inputs) == 8 and inputs[0].shape == (1, 3, 64, 64)
    # Normalised with the config's mean and std, as the deployed model's inputs are (ImageNet's
    # statistics map pixels 0-255 into about [-2.1, 2.7]); unnormalised pixels collapse int8.
    values = np.concatenate([x.ravel() for x in inputs])
    assert -2.2 < values.min() < 0 < values.max() < 2.7
    # Exactly what the PyTorch model's own data preprocessor makes of the same images.
    preprocessor = build_pytorch_model(processor, None).data_preprocessor
    dataset = split_dataset(processor, deploy_cfg, 'train', num_images=8, seed=0)
    for batch, data in zip(inputs, dataloader_of(processor, dataset)):
        np.testing.assert_allclose(batch, preprocessor(data, False)['inputs'].numpy(), atol=1e-6)
    assert all(f.startswith(str(root / 'cls' / 'train')) for f in files)
    # A seeded sample over the classes, not the first folder.
    assert len({osp.basename(osp.dirname(f)) for f in files}) > 1

    int8_file, files = quantize(xml_file, deploy_cfg, model_cfg, num_images=8)
    assert int8_file.endswith('end2end_int8.xml') and len(files) == 8
    int8_model = openvino_core().read_model(int8_file)
    ops = [op.get_type_name() for op in int8_model.get_ops()]
    assert ops.count('FakeQuantize') >= 10
    # The convs with int8 inputs: all but the Spatial Module's (NNCF_IGNORED_PATTERNS).
    quantized = {
        op.get_friendly_name(): op.input_value(0).get_node().get_type_name() == 'FakeQuantize'
        for op in int8_model.get_ops()
        if op.get_type_name() in ('Convolution', 'GroupConvolution')
    }
    spatial = [name for name in quantized if '/spatial_conv/' in name]
    assert len(spatial) == 6 and not any(quantized[name] for name in spatial)
    assert sum(quantized.values()) >= len(quantized) - len(spatial) - 1  # the stem's may not be
    model = OpenVINOModel(int8_file, precision='int8')
    assert model(torch.randn(3, 3, 64, 64))['output'].shape == (3, 5)

    deploy_cfg.backend_config.precision = 'int8'
    checks = check_onnx(onnx_file, deploy_cfg, model_cfg, checkpoint, image, backend_file=int8_file)
    assert checks and all(c.limit is None for c in checks)


def _permute_classes(onnx_file: str, out: str) -> str:
    """The classifier with its classes renamed: head row i becomes row i + 1, so its top-1 class
    is PyTorch's plus one, on every image."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(onnx_file)
    inits = {init.name: init for init in model.graph.initializer}
    (gemm,) = [node for node in model.graph.node if node.op_type == 'Gemm']
    for name in gemm.input[1:]:
        array = numpy_helper.to_array(inits[name])
        inits[name].CopyFrom(numpy_helper.from_array(np.roll(array, 1, axis=0), name))
    onnx.save(model, out)
    return to_openvino(out)


def test_accuracy_check_passes_fp32_and_fails_a_broken_model(
    exported_classifier, toy_data, tmp_path
):
    """mmpretrain's Accuracy through mmengine's Evaluator, on the validation split: the fp32 IR
    equals PyTorch on it; the model with permuted classes disagrees on every image."""
    task, onnx_file, xml_file, checkpoint, _ = exported_classifier
    _, options = toy_data
    report = check_accuracy(xml_file, *_paths(task), checkpoint, cfg_options=options['cls'])
    assert report.num_images == 10 and report.passed, [c.as_row() for c in report.checks]
    ref, got = report.metrics['pytorch'], report.metrics['backend']
    assert got['accuracy/top1'] == ref['accuracy/top1']
    assert report.checks[-1].value == 0

    broken = _permute_classes(onnx_file, str(tmp_path / 'permuted.onnx'))
    report = check_accuracy(broken, *_paths(task), checkpoint, cfg_options=options['cls'])
    assert not report.passed
    assert report.checks[-1].name == 'top-1 classes differing from PyTorch (%)'
    assert report.checks[-1].value == 100 and report.checks[-1].passed is False


@pytest.mark.parametrize('task', ['seg', 'det'])
def test_accuracy_check_dense_tasks(task, toy_data, tmp_path_factory):
    """mmseg's IoUMetric and mmdet's CocoMetric (bbox and segm) on the fp32 IR and PyTorch: the
    same model, so the same metrics."""
    _, onnx_file, xml_file, checkpoint, _ = _export(task, tmp_path_factory)
    _, options = toy_data
    report = check_accuracy(xml_file, *_paths(task), checkpoint, cfg_options=options[task])
    assert report.passed, [c.as_row() for c in report.checks]
    keys = {'seg': ['mIoU'], 'det': ['coco/bbox_mAP', 'coco/segm_mAP']}[task]
    for key in keys:
        assert abs(report.metrics['backend'][key] - report.metrics['pytorch'][key]) <= 1e-3


def test_deploy_command_int8(toy_data, tmp_path):
    """The command end to end for int8: export, convert, calibrate, the image checks for
    information and the accuracy check, its verdict in the exit status and accuracy.json."""
    root, options = toy_data
    deploy = load_tool('deployment', 'deploy.py')
    image = str(tmp_path / 'image.png')
    _write_image('cls', image)
    argv = [*_paths('cls'), 'none', image, '--work-dir', str(tmp_path / 'cli')]
    argv += ['--precision', 'int8', '--calib-images', '6', '--cfg-options']
    argv += [f'{key}={value}' for key, value in options['cls'].items()]
    status = deploy.main(argv)
    with open(tmp_path / 'cli' / 'accuracy.json') as f:
        report = json.load(f)
    assert report['backend'] == 'openvino int8' and report['num_images'] == 10
    assert report['backend_file'].endswith('end2end_int8.xml')
    assert status == (0 if all(c['passed'] for c in report['checks']) else 1)
