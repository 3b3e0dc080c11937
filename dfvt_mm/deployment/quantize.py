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
from .runtime import openvino_core

#: NNCF's model type: DFvT has attention blocks in every task, so NNCF's transformer scheme fits
#: all three: int8 inputs for every conv, every linear layer (weights per output channel,
#: symmetric; activations per tensor, asymmetric: its mixed preset) and the attention's
#: query-key MatMul; the attention-weights-times-value MatMul, LayerNorm, Softmax and the
#: elementwise ops (the residual and DANE's adds and products, sigmoid, GELU, SiLU) stay f32.
#: Its SmoothQuant (alpha 0.95 on the MatMuls) and fast bias correction run as by default: on the
#: toy classifier, SmoothQuant off (2.7 %, one calibration sample) and the slower bias correction
#: (2.3-2.6 %, three) gave class scores no closer to fp32 than the defaults (2.0-2.9 %, three).
NNCF_MODEL_TYPE = 'transformer'
#: Left in f32 besides (regular expressions over the graph's node names, which are the modules'
#: names): the Spatial Module's two convs (depthwise 3x3 and 1x1, stages 0-2), whose output enters
#: DANE's gate and gated sum in every block of the stage. Chosen by measurement, on the toy
#: classifier against its fp32 IR on the 200 validation images: relative error of the class
#: scores 1.8-2.0 % with them in f32, 2.0-2.9 % in int8 (three calibration samples of 300
#: training images); the trained UperNet's mIoU change 0.25 -> 0.03, Mask R-CNN's segm mAP
#: change 0.008 -> 0.001 (one sample). 3 of DFvT-T's 28 convs. All of stage 0 in f32 (15
#: quantizers, not 3) did about as well (1.5 %, one sample); DANE, the head, the stem,
#: context_conv.1 or the last stage in f32 did not help.
NNCF_IGNORED_PATTERNS = (r'.*/spatial_conv/.*',)


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

    NNCF's transformer scheme (:data:`NNCF_MODEL_TYPE`) with :data:`NNCF_IGNORED_PATTERNS` left
    in f32; every input is used for the statistics.

    Returns:
        ``out_file`` (default: ``xml_file`` with ``_int8.xml``).
    """
    import nncf
    import openvino as ov

    out_file = out_file or osp.splitext(xml_file)[0] + '_int8.xml'
    model = openvino_core().read_model(xml_file)
    quantized = nncf.quantize(
        model,
        nncf.Dataset(inputs),
        model_type=nncf.ModelType(NNCF_MODEL_TYPE),
        subset_size=len(inputs),
        # Not every model has every pattern (a config without the Spatial Module).
        ignored_scope=nncf.IgnoredScope(patterns=list(NNCF_IGNORED_PATTERNS), validate=False),
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
