"""Deployment of DFvT models to onnxruntime through mmdeploy (``tools/deployment/deploy.py``).

Importing this package registers :mod:`.mmdeploy_patches`' rewriter with mmdeploy; it needs the
deploy extras (``requirements/deploy.txt`` and ``mmdeploy`` installed with ``--no-deps``).
"""

from .check import Check, check_onnx
from .export import (
    export_module_onnx,
    export_onnx,
    load_deploy_configs,
    save_random_checkpoint,
    task_of,
)
from .mmdeploy_patches import (
    adaptive_avg_pool2d_static,
    keep_rewritten_descriptors,
    torchscript_onnx_export,
)
from .runtime import OnnxRuntimeModel

__all__ = [
    'Check',
    'OnnxRuntimeModel',
    'adaptive_avg_pool2d_static',
    'check_onnx',
    'export_module_onnx',
    'export_onnx',
    'keep_rewritten_descriptors',
    'load_deploy_configs',
    'save_random_checkpoint',
    'task_of',
    'torchscript_onnx_export',
]
