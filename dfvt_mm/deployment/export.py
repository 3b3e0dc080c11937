"""Export a DFvT model of any of the three tasks to ONNX with mmdeploy, and convert it to OpenVINO.

mmdeploy does the work: its task processors build the model and its test-time input from the
configs, its rewriters turn the post-processing (softmax, argmax, RPN and R-CNN NMS, RoIAlign,
mask head) into ONNX graph nodes (RoI extraction as ONNX RoiAlign per level for both backends,
see :mod:`.mmdeploy_patches`, gap 6). :mod:`.mmdeploy_patches` closes the gaps between
mmdeploy 1.3.1 and torch 2.13 / OpenVINO 2026. The OpenVINO IR is written by :func:`to_openvino`
(``openvino.convert_model``), not by mmdeploy's conversion, which runs the removed Model Optimizer.
"""

from __future__ import annotations

import copy
import os.path as osp
from collections.abc import Sequence
from typing import Any

import mmengine
import numpy as np
import torch
from mmengine.config import Config

from ..utils.tasks import SCOPES, task_of
from . import mmdeploy_patches

# The backends of configs/deploy/ -> the precisions each runs (backend_config.precision).
PRECISIONS = {'onnxruntime': ('fp32',), 'openvino': ('fp32', 'bf16', 'int8')}


def load_deploy_configs(
    deploy_cfg: str | Config, model_cfg: str | Config, cfg_options: dict | None = None
) -> tuple[Config, Config]:
    """Load a deploy config and a model config, applying ``cfg_options`` to the model config.

    Raises:
        ValueError: the deploy config is not an onnxruntime or OpenVINO config of one of the
            three tasks, or asks its backend for a precision it does not run.
    """
    from mmdeploy.utils import load_config

    deploy_cfg, model_cfg = load_config(deploy_cfg, model_cfg)
    if cfg_options:
        model_cfg.merge_from_dict(cfg_options)
    codebase = deploy_cfg.get('codebase_config', {}).get('type')
    if codebase not in SCOPES:
        raise ValueError(
            f'{deploy_cfg.filename}: codebase_config.type is {codebase!r}; the deploy configs '
            f'here are for {sorted(SCOPES)} (see configs/deploy/)'
        )
    backend = deploy_cfg.get('backend_config', {}).get('type')
    if backend not in PRECISIONS:
        raise ValueError(
            f'{deploy_cfg.filename}: backend_config.type is {backend!r}; the deploy configs '
            f'here are for {sorted(PRECISIONS)} (see configs/deploy/)'
        )
    precision = precision_of(deploy_cfg)
    if precision not in PRECISIONS[backend]:
        raise ValueError(
            f'{deploy_cfg.filename}: precision {precision!r}; {backend} runs '
            f'{", ".join(PRECISIONS[backend])} here'
        )
    check_shapes_of(deploy_cfg)
    return deploy_cfg, model_cfg


def backend_of(deploy_cfg: Config) -> str:
    """``'onnxruntime'`` or ``'openvino'``."""
    return deploy_cfg.backend_config.type


def precision_of(deploy_cfg: Config) -> str:
    """``backend_config.precision``: ``'fp32'`` (the default), ``'bf16'`` or ``'int8'``."""
    return deploy_cfg.backend_config.get('precision', 'fp32')


def deploy_task(deploy_cfg: Config) -> str:
    """The key in :data:`dfvt_mm.utils.TASKS` (``'cls'``, ``'det'``, ``'seg'``) of a deploy
    config, from its ``codebase_config.type`` (validated by :func:`load_deploy_configs`)."""
    return task_of({'default_scope': deploy_cfg.codebase_config.type})


def check_shapes_of(deploy_cfg: Config) -> list[tuple[int, int]]:
    """The ``(width, height)`` sizes that the graph of a deploy config with dynamic height and
    width is checked at besides the export image's (its ``check_shapes``, ``[width, height]``
    as mmdeploy's ``input_shape``); none for a graph of fixed size.

    Raises:
        ValueError: height and width are dynamic and ``check_shapes`` names no sizes.
    """
    from mmdeploy.utils import is_dynamic_shape

    if not is_dynamic_shape(deploy_cfg):
        return []
    shapes = deploy_cfg.get('check_shapes')
    valid = bool(shapes) and all(
        len(shape) == 2 and all(isinstance(side, int) and side > 0 for side in shape)
        for shape in shapes
    )
    if not valid:
        raise ValueError(
            f'{deploy_cfg.filename}: height and width are dynamic, so check_shapes must list the '
            f'[width, height] sizes to check the graph at besides the export size (got '
            f'{shapes!r}; see configs/deploy/_base_segmentation_dynamic.py)'
        )
    return [tuple(shape) for shape in shapes]


def build_task_processor(deploy_cfg: Config, model_cfg: Config, device: str = 'cpu') -> Any:
    """mmdeploy's task processor of the configs (builds models and inputs)."""
    from mmdeploy.apis import build_task_processor as build

    return build(model_cfg, deploy_cfg, device)


def create_input(
    task_processor: Any,
    deploy_cfg: Config,
    img: str | np.ndarray | list,
    model: torch.nn.Module | None = None,
    input_shape: Sequence[int] | None = None,
) -> tuple[dict, torch.Tensor]:
    """The test-time data and the preprocessed batch of ``img`` (one image or a list), as
    mmdeploy makes them for export: the model's test pipeline, resized to ``input_shape``
    (``[width, height]``; default ``onnx_config.input_shape``) when one is given, and
    ``model``'s data preprocessor (without a model, mmdeploy's own handling)."""
    from mmdeploy.utils import get_input_shape

    if isinstance(img, str) and not osp.isfile(img):
        raise FileNotFoundError(f'image {img} does not exist; pass an image file the model reads')
    preprocessor = model.data_preprocessor if model is not None else None
    if input_shape is None:
        input_shape = get_input_shape(deploy_cfg)
    # mmdet's create_input edits the processor's own model config (its Resize, its image loader):
    # give it a copy, so that nothing stays for the next call.
    task_processor = copy.copy(task_processor)
    task_processor.model_cfg = copy.deepcopy(task_processor.model_cfg)
    data, inputs = task_processor.create_input(img, input_shape, data_preprocessor=preprocessor)
    if isinstance(inputs, (list, tuple)):
        inputs = inputs[0] if len(inputs) == 1 else torch.stack(list(inputs))
    return data, inputs


def build_pytorch_model(task_processor: Any, checkpoint: str | None) -> torch.nn.Module:
    """The PyTorch model as trained, in eval mode, with the checkpoint's weights.

    Built as mmdeploy's task processor builds the model it exports, except that mmdeploy then
    calls ``switch_to_deploy`` (DFvT folds its BatchNorms into the convs): the exported graph has
    them folded, and checking it against this model checks the folding too.
    """
    from mmengine.runner import load_checkpoint

    from ..utils.build import build_model

    if checkpoint is not None and not osp.isfile(checkpoint):
        raise FileNotFoundError(
            f'checkpoint {checkpoint} does not exist; pass a checkpoint of the model config '
            f'(tools/train.py writes them under work_dirs/)'
        )
    model = build_model(task_processor.model_cfg)
    if checkpoint is not None:
        load_checkpoint(model, checkpoint, map_location='cpu')
    return model.to(task_processor.device).eval()


def save_random_checkpoint(
    deploy_cfg: str | Config,
    model_cfg: str | Config,
    path: str,
    seed: int = 0,
    cfg_options: dict | None = None,
) -> str:
    """Save the model with seeded random weights (its ``init_weights``) as a checkpoint, so that
    an export and its check start from the same weights. Returns ``path``."""
    deploy_cfg, model_cfg = load_deploy_configs(deploy_cfg, model_cfg, cfg_options)
    torch.manual_seed(seed)
    model = build_pytorch_model(build_task_processor(deploy_cfg, model_cfg), None)
    model.init_weights()
    mmengine.mkdir_or_exist(osp.dirname(osp.abspath(path)))
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, path)
    return path


def export_onnx(
    deploy_cfg: str | Config,
    model_cfg: str | Config,
    checkpoint: str | None,
    img: str | np.ndarray,
    work_dir: str,
    device: str = 'cpu',
    cfg_options: dict | None = None,
) -> str:
    """Export the model to ONNX with mmdeploy's ``torch2onnx``.

    DFvT's BatchNorms are folded into its convs (mmdeploy calls the backbone's
    ``switch_to_deploy``). Folding costs int8 nothing here: OpenVINO's conversion folds a graph's
    ``BatchNormalization`` nodes into the convs itself (an export that kept them gave the same
    IR, conv weights within 2e-7), and NNCF quantizes conv weights per output channel, which a
    per-channel BatchNorm scale does not change (unlike RepVGG-style re-parameterisation, which
    merges branches, DFvT's only folds BatchNorms).

    Args:
        deploy_cfg: A deploy config (``configs/deploy/*.py``) or its path.
        model_cfg: The model config or its path.
        checkpoint: The model's checkpoint; None exports randomly initialised weights.
        img: The image traced through the model (also sets the input size of static axes).
        work_dir: Where to write the ONNX file (``onnx_config.save_file``).
        device: Device to trace on.
        cfg_options: Overrides of the model config (e.g. ``{'model.backbone.init_cfg': None}``).
    Returns:
        The path of the ONNX file.
    """
    from mmdeploy.apis import torch2onnx

    deploy_cfg, model_cfg = load_deploy_configs(deploy_cfg, model_cfg, cfg_options)
    if checkpoint is not None and not osp.isfile(checkpoint):
        raise FileNotFoundError(f'checkpoint {checkpoint} does not exist')
    if isinstance(img, str) and not osp.isfile(img):
        raise FileNotFoundError(f'image {img} does not exist; pass an image file the model reads')
    mmengine.mkdir_or_exist(work_dir)
    save_file = deploy_cfg.onnx_config.save_file
    with mmdeploy_patches.torchscript_onnx_export():
        torch2onnx(img, work_dir, save_file, deploy_cfg, model_cfg, checkpoint, device=device)
    path = osp.join(work_dir, save_file)
    if not osp.isfile(path):
        raise RuntimeError(f'mmdeploy reported no error but wrote no {path}')
    return path


def to_openvino(onnx_file: str, xml_file: str | None = None) -> str:
    """Convert an exported ONNX file to OpenVINO IR (``.xml`` and ``.bin``) with
    ``openvino.convert_model``.

    mmdeploy's own conversion (``OpenVINOManager.to_backend``) runs the Model Optimizer command
    ``mo``, which OpenVINO removed in 2025.0; ``convert_model`` is its replacement and reads the
    same graph, mmdeploy's OpenVINO-specific nodes included. The IR keeps the ONNX graph's
    shapes (batch dynamic) and its tensor names. Weights stay f32 (``save_model`` would compress
    them to f16 by default, which the 1e-4 check against PyTorch would see).

    Args:
        onnx_file: The mmdeploy export of an OpenVINO deploy config.
        xml_file: The IR to write; defaults to ``onnx_file`` with ``.xml``.

    Returns:
        The path of the ``.xml`` file.
    """
    import openvino as ov

    xml_file = xml_file or osp.splitext(onnx_file)[0] + '.xml'
    ov.save_model(ov.convert_model(onnx_file), xml_file, compress_to_fp16=False)
    return xml_file


def export_module_onnx(
    module: torch.nn.Module,
    inputs: torch.Tensor,
    path: str,
    deploy_cfg: str | Config,
    dynamic_size: bool = False,
) -> str:
    """Export a bare ``nn.Module`` (a backbone, say) as ``deploy_cfg`` exports whole models:
    mmdeploy's ``onnx.export`` with its rewriters, the config's opset, and the batch dynamic.

    Args:
        module: The module, called on one (N, C, H, W) tensor.
        inputs: The tensor traced through it.
        path: The ONNX file to write (it must end in ``.onnx``).
        deploy_cfg: The deploy config whose ONNX settings and backend to export with.
        dynamic_size: Height and width dynamic too; else they are those of ``inputs``.

    Returns:
        ``path``.
    """
    from mmdeploy.apis.onnx import export
    from mmdeploy.utils import load_config

    if not path.endswith('.onnx'):
        raise ValueError(f'{path}: the ONNX file name must end in .onnx')
    (deploy_cfg,) = load_config(deploy_cfg)
    onnx_config = deploy_cfg.onnx_config
    axes = {0: 'batch', 2: 'height', 3: 'width'} if dynamic_size else {0: 'batch'}
    with mmdeploy_patches.torchscript_onnx_export():
        export(
            module.eval(),
            inputs,
            path[: -len('.onnx')],
            backend=deploy_cfg.backend_config.type,
            context_info=dict(deploy_cfg=deploy_cfg),
            input_names=['input'],
            opset_version=onnx_config.opset_version,
            dynamic_axes={'input': axes},
            keep_initializers_as_inputs=onnx_config.keep_initializers_as_inputs,
            optimize=onnx_config.get('optimize', False),
        )
    return path
