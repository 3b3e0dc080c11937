"""Deployment of DFvT models through mmdeploy: ONNX export, onnxruntime and OpenVINO (fp32, bf16,
int8 with NNCF), checks against PyTorch on an image and on a validation set
(``tools/deployment/deploy.py``).

Importing this package registers :mod:`.mmdeploy_patches`' rewriter with mmdeploy; it needs the
deploy extras (``requirements/deploy.txt`` and ``mmdeploy`` installed with ``--no-deps``).
"""

from .accuracy import AccuracyReport, check_accuracy
from .check import Check, check_onnx
from .export import (
    backend_of,
    deploy_task,
    export_module_onnx,
    export_onnx,
    load_deploy_configs,
    precision_of,
    save_random_checkpoint,
    to_openvino,
)
from .mmdeploy_patches import (
    OpenVINOWrapper,
    adaptive_avg_pool2d_static,
    keep_rewritten_descriptors,
    openvino_wrapper,
    torchscript_onnx_export,
)
from .quantize import calibration_inputs, quantize, quantize_openvino
from .runtime import OnnxRuntimeModel, OpenVINOModel, bf16_unsupported_reason, openvino_core

__all__ = [
    'AccuracyReport',
    'Check',
    'OnnxRuntimeModel',
    'OpenVINOModel',
    'OpenVINOWrapper',
    'adaptive_avg_pool2d_static',
    'backend_of',
    'bf16_unsupported_reason',
    'calibration_inputs',
    'check_accuracy',
    'check_onnx',
    'deploy_task',
    'export_module_onnx',
    'export_onnx',
    'keep_rewritten_descriptors',
    'load_deploy_configs',
    'openvino_core',
    'openvino_wrapper',
    'precision_of',
    'quantize',
    'quantize_openvino',
    'save_random_checkpoint',
    'to_openvino',
    'torchscript_onnx_export',
]
