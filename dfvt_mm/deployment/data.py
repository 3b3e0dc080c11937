"""The images a deployed model is measured and calibrated on: a split of the model config's
dataset, through the config's test pipeline, at the input size the deploy config exports.

The accuracy check reads the validation split; int8 calibration reads the training split (never
the validation one), with the same test-time transforms and the same data preprocessor
(:func:`backend_data_preprocessor`), so that calibration sees what inference sees.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch
from mmengine.config import Config, ConfigDict

from .mmdeploy_patches import openvino_wrapper


def fixed_size_pipeline(pipeline: list, input_shape: list[int] | None) -> list:
    """The test pipeline resized to the deploy config's ``input_shape`` ([W, H]) where it fixes
    one: every ``Resize`` to exactly that size, as mmdeploy's task processors resize the export
    image (their ``process_model_config``, which also drops ``LoadAnnotations``; kept here,
    the metrics need the annotations). Unchanged when ``input_shape`` is None."""
    pipeline = copy.deepcopy(list(pipeline))
    if input_shape is None:
        return pipeline
    for transform in pipeline:
        if transform['type'] in ('Resize', 'mmdet.Resize', 'mmseg.Resize'):
            transform['scale'] = tuple(input_shape)
            transform['keep_ratio'] = False
    return pipeline


def split_dataset(
    processor: Any,
    deploy_cfg: Config,
    split: str,
    num_images: int | None = None,
    seed: int = 0,
) -> Any:
    """The dataset of ``model_cfg[f'{split}_dataloader']`` with the test pipeline.

    Args:
        processor: mmdeploy's task processor of the configs (``build_task_processor``).
        deploy_cfg: The deploy config (its ``onnx_config.input_shape``).
        split: ``'train'`` (calibration) or ``'val'`` (accuracy).
        num_images: Keep a seeded random sample of this many images (the folders of an
            ImageNet-style split are sorted by class, so the first images would be one class);
            None keeps all.
        seed: Seed of the sample.

    Raises:
        ValueError: The split has fewer images than ``num_images``.
    """
    from mmdeploy.utils import get_input_shape

    model_cfg = processor.model_cfg
    dataset_cfg = copy.deepcopy(model_cfg[f'{split}_dataloader'].dataset)
    while 'dataset' in dataset_cfg:  # RepeatDataset, ClassBalancedDataset, ...
        dataset_cfg = dataset_cfg.dataset
    test_pipeline = model_cfg.test_dataloader.dataset.pipeline
    dataset_cfg.pipeline = fixed_size_pipeline(test_pipeline, get_input_shape(deploy_cfg))
    dataset = processor.build_dataset(ConfigDict(dataset_cfg))
    if num_images is not None and num_images > len(dataset):
        raise ValueError(
            f'{num_images} {split} images asked for; the {split} split has {len(dataset)}'
        )
    return sample(dataset, num_images, seed)


def sample(dataset: Any, num_images: int | None, seed: int = 0) -> Any:
    """A seeded random sample of ``num_images`` of the dataset's images, in the dataset's
    order (all of them where it has no more)."""
    if num_images is None or num_images >= len(dataset):
        return dataset
    picked = np.random.default_rng(seed).choice(len(dataset), num_images, replace=False)
    return dataset.get_subset(sorted(int(i) for i in picked))


def dataloader_of(processor: Any, dataset: Any, batch_size: int = 1) -> Any:
    """A dataloader over ``dataset`` in order, in this process, collated as the model config's
    test dataloader collates."""
    test_loader = processor.model_cfg.test_dataloader
    loader_cfg = dict(
        dataset=dataset,
        batch_size=batch_size,
        num_workers=0,
        sampler=dict(type='DefaultSampler', shuffle=False),
        collate_fn=test_loader.get('collate_fn', dict(type='pseudo_collate')),
    )
    return processor.build_dataloader(loader_cfg)


def image_paths(dataset: Any) -> list[str]:
    """The image files of a dataset (its ``img_path`` entries)."""
    return [dataset.get_data_info(i)['img_path'] for i in range(len(dataset))]


def backend_data_preprocessor(processor: Any, backend_file: str) -> torch.nn.Module:
    """The data preprocessor of mmdeploy's backend model (``End2EndModel``) of ``backend_file``:
    what turns the test pipeline's data into the graph's input batch when the deployed model runs,
    in the accuracy check too (mean/std normalisation, padding).

    Not the task processor's ``build_data_preprocessor``: mmdeploy 1.3.1's mmpretrain one reads a
    ``preprocess_cfg`` key that mmpretrain 1.x configs no longer have, and builds a
    ``ClsDataPreprocessor`` without the config's mean and std. Classifiers calibrated on those
    unnormalised images (pixel values 0-255 where the graph expects about -2 to 2) lost all
    accuracy in int8 (toy classifier: top-1 94.5 -> 20.0, chance).
    """
    with openvino_wrapper():
        backend = processor.build_backend_model(
            [backend_file], data_preprocessor_updater=processor.update_data_preprocessor
        )
    return backend.data_preprocessor
