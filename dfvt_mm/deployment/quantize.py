"""int8 post-training quantization of an OpenVINO IR with NNCF, calibrated on training images.

The calibration images are a seeded sample of the model config's train dataloader's dataset,
through the test pipeline and the data preprocessor of mmdeploy's backend model (what the deployed
graph is fed, :func:`.data.backend_data_preprocessor`), never validation images: the accuracy
check (:mod:`.accuracy`) measures on those.
"""

from __future__ import annotations

import os.path as osp
from typing import Any

import numpy as np
import torch
from mmengine.config import Config

from .data import backend_data_preprocessor, dataloader_of, sample, split_dataset
from .export import build_task_processor, load_deploy_configs

#: NNCF's model type per task: DFvT has attention blocks in every task, so NNCF's transformer
#: scheme (it keeps LayerNorm, Softmax and the attention's score MatMul inputs out of int8 where
#: quantizing them loses accuracy) fits all three.
NNCF_MODEL_TYPE = 'transformer'


def calibration_inputs(
    processor: Any, deploy_cfg: Config, backend_file: str, num_images: int, seed: int = 0
) -> tuple[list[np.ndarray], list[str]]:
    """Preprocessed training images, one batch of one each, and their files.

    Args:
        processor: mmdeploy's task processor of the configs.
        deploy_cfg: The deploy config (its input size).
        backend_file: The fp32 model to be quantized; its backend model's data preprocessor
            makes the batches.
        num_images: How many training images (a seeded sample; all if the split has fewer).
        seed: Seed of the sample.
    """
    dataset = sample(split_dataset(processor, deploy_cfg, 'train'), num_images, seed)
    preprocessor = backend_data_preprocessor(processor, backend_file)
    inputs, files = [], []
    with torch.no_grad():
        for data in dataloader_of(processor, dataset, batch_size=1):
            batch = preprocessor(data, False)['inputs']
            inputs.append(np.ascontiguousarray(batch.cpu().numpy(), dtype=np.float32))
            files += [sample.img_path for sample in data['data_samples']]
    return inputs, files


def quantize_openvino(
    xml_file: str,
    inputs: list[np.ndarray],
    out_file: str | None = None,
) -> str:
    """Quantize an OpenVINO IR to int8 with ``nncf.quantize`` on ``inputs``.

    Weights are quantized per output channel (symmetric), activations per tensor with NNCF's
    mixed preset (asymmetric activations), its default for transformers; every input is used
    for the statistics.

    Returns:
        ``out_file`` (default: ``xml_file`` with ``_int8.xml``).
    """
    import nncf
    import openvino as ov

    out_file = out_file or osp.splitext(xml_file)[0] + '_int8.xml'
    model = ov.Core().read_model(xml_file)
    quantized = nncf.quantize(
        model,
        nncf.Dataset(inputs),
        model_type=nncf.ModelType(NNCF_MODEL_TYPE),
        subset_size=len(inputs),
    )
    ov.save_model(quantized, out_file, compress_to_fp16=False)
    return out_file


def quantize(
    xml_file: str,
    deploy_cfg: str | Config,
    model_cfg: str | Config,
    num_images: int | None = None,
    seed: int | None = None,
    out_file: str | None = None,
    cfg_options: dict | None = None,
) -> tuple[str, list[str]]:
    """Calibrate and quantize the IR of a deploy config's export to int8.

    Args:
        xml_file: The fp32 IR (:func:`dfvt_mm.deployment.to_openvino`).
        deploy_cfg: The deploy config (``calib_config`` gives the defaults of the next two).
        model_cfg: The model config (its train dataloader's dataset and test pipeline).
        num_images: Calibration images.
        seed: Seed of their sample.
        out_file: The int8 IR to write (default ``*_int8.xml``).
        cfg_options: Model config overrides.

    Returns:
        The int8 IR, and the image files it was calibrated on.
    """
    deploy_cfg, model_cfg = load_deploy_configs(deploy_cfg, model_cfg, cfg_options)
    calib = deploy_cfg.get('calib_config', {})
    num_images = num_images if num_images is not None else calib.get('num_images', 300)
    seed = seed if seed is not None else calib.get('seed', 0)
    processor = build_task_processor(deploy_cfg, model_cfg)
    inputs, files = calibration_inputs(processor, deploy_cfg, xml_file, num_images, seed)
    return quantize_openvino(xml_file, inputs, out_file), files
