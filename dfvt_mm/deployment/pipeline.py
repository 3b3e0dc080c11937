"""Export, convert and quantize in one call: what ``tools/deployment/deploy.py`` and the benchmark's
precision table run for a deploy config."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from mmengine.config import Config

from .export import backend_of, export_onnx, load_deploy_configs, precision_of, to_openvino
from .quantize import quantize


@dataclass
class Deployed:
    """The files of one deployment.

    Args:
        onnx_file: The mmdeploy export.
        backend_file: What the backend runs: ``onnx_file`` (onnxruntime), the IR (OpenVINO fp32,
            bf16) or the int8 IR.
        backend: ``'onnxruntime'`` or ``'openvino'``.
        precision: ``'fp32'``, ``'bf16'`` or ``'int8'``.
        calibration_files: The training images int8 was calibrated on.
    """

    onnx_file: str
    backend_file: str
    backend: str
    precision: str
    calibration_files: list[str] = field(default_factory=list)


def deploy(
    deploy_cfg: str | Config,
    model_cfg: str | Config,
    checkpoint: str | None,
    img: str | np.ndarray,
    work_dir: str,
    precision: str | None = None,
    calib_images: int | None = None,
    device: str = 'cpu',
    cfg_options: dict | None = None,
) -> Deployed:
    """Export the model with ``deploy_cfg`` and make the backend's file.

    Args:
        deploy_cfg: A deploy config or its path.
        model_cfg: The model config or its path.
        checkpoint: The checkpoint (None: random weights).
        img: The export image.
        work_dir: Where the files go.
        precision: OpenVINO's precision (default: the deploy config's
            ``backend_config.precision``).
        calib_images: int8: calibration images from the train split (default: the deploy
            config's ``calib_config.num_images``).
        device: Device to export on.
        cfg_options: Model config overrides.
    """
    deploy_cfg, model_cfg = load_deploy_configs(deploy_cfg, model_cfg, cfg_options)
    if precision:
        deploy_cfg.backend_config.precision = precision
        deploy_cfg, model_cfg = load_deploy_configs(deploy_cfg, model_cfg)  # validates it
    backend, precision = backend_of(deploy_cfg), precision_of(deploy_cfg)
    onnx_file = export_onnx(deploy_cfg, model_cfg, checkpoint, img, work_dir, device, cfg_options)
    deployed = Deployed(onnx_file, onnx_file, backend, precision)
    if backend == 'openvino':
        deployed.backend_file = to_openvino(onnx_file)
        if precision == 'int8':
            deployed.backend_file, deployed.calibration_files = quantize(
                deployed.backend_file, deploy_cfg, model_cfg, calib_images, cfg_options=cfg_options
            )
    return deployed
