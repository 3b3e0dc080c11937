"""A bad sample in a dataset is one line: the file, what is wrong with it, what to do.

An image that is missing, unreadable or corrupt (or a segmentation map, or an annotation that
names a file that is not there) otherwise ends a run with a traceback from deep in a data loader
worker: mmcv's ``failed to load image`` assertion, a ``FileNotFoundError``, or a PIL error that
names no file at all. :class:`BadSampleHook` wraps the datasets of a run so that such a sample
raises :class:`BadSampleError` naming its files; the tools (``tools/train.py``,
``tools/test.py``) print that one line and exit.

In training, ``skip=True`` follows mmengine's own convention for samples a pipeline cannot
use: the dataset returns None and mmengine's ``BaseDataset`` draws another sample in its place
(up to its ``max_refetch``). The hook counts the samples skipped, in every worker, and logs the
count and the first file after each epoch. Validation and testing never skip: a metric over part
of the set would be quietly wrong.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import os.path as osp
from collections.abc import Callable
from typing import Any

import cv2
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.registry import HOOKS
from PIL import Image


class BadSampleError(Exception):
    """A sample of a dataset cannot be loaded. The message is one line: file, problem, fix."""


def file_problem(path: str) -> str | None:
    """What keeps a sample's file from loading, in a few words; None if it reads as an image."""
    if not osp.exists(path):
        return 'does not exist'
    if not osp.isfile(path):
        return 'is not a file'
    if not os.access(path, os.R_OK):
        return 'cannot be read (permission denied)'
    if osp.getsize(path) == 0:
        return 'is empty'
    try:  # PIL reads the whole file: it finds truncation that OpenCV decodes past
        with Image.open(path) as img:
            img.load()
    except Exception as e:  # noqa: BLE001 (PIL raises many types for a file it cannot decode)
        pil_error = f'{type(e).__name__}: {e}'
    else:
        pil_error = None
    if pil_error is not None and cv2.imread(path, cv2.IMREAD_UNCHANGED) is None:
        return f'cannot be decoded as an image (corrupt, truncated or not an image; {pil_error})'
    if pil_error is not None and 'truncated' in pil_error:
        return f'is truncated ({pil_error})'
    return None


def sample_files(info: dict) -> list[str]:
    """The files a sample's data info names (``img_path``, ``seg_map_path``, ...)."""
    return [v for k, v in info.items() if k.endswith('_path') and isinstance(v, str) and v]


def _leaves(dataset: Any) -> list[Any]:
    """The datasets that load samples, under mmengine's wrappers (Concat, Repeat, ...)."""
    if hasattr(dataset, 'datasets'):
        return [leaf for d in dataset.datasets for leaf in _leaves(d)]
    if hasattr(dataset, 'dataset'):
        return _leaves(dataset.dataset)
    return [dataset] if hasattr(dataset, 'prepare_data') else []


def _guarded(dataset: Any, skip: bool, skipped: Any) -> Callable[[int], Any]:
    prepare = dataset.prepare_data

    def prepare_data(idx: int) -> Any:
        try:
            return prepare(idx)
        except Exception as e:
            info = dataset.get_data_info(idx)
            bad = [(p, why) for p in sample_files(info) if (why := file_problem(p)) is not None]
            if not bad:
                raise  # not a bad file: a pipeline or config problem, with its own traceback
            path, why = bad[0]
            if skip:
                with skipped.get_lock():
                    skipped.value += 1
                print_log(
                    f'skipping training sample {idx}: {path} {why}',
                    logger='current',
                    level=logging.WARNING,
                )
                return None  # mmengine's BaseDataset draws another sample in its place
            where = getattr(dataset, 'ann_file', '') or getattr(dataset, 'data_root', '')
            raise BadSampleError(
                f'{path} {why} (sample {idx} of {type(dataset).__name__}'
                f'{f" {where}" if where else ""}): replace the file, or remove it from the '
                f'dataset; in training, train_dataloader.dataset can skip such samples with '
                f'tools/train.py --skip-bad-samples'
            ) from e

    prepare_data.__wrapped__ = prepare
    return prepare_data


@HOOKS.register_module()
class BadSampleHook(Hook):
    """Make a bad sample one line (:class:`BadSampleError`), or skip it in training.

    Args:
        skip: Skip bad training samples (mmengine draws another in their place) and log how
            many were skipped after each epoch. Validation and test samples are never skipped.
    """

    priority = 'VERY_HIGH'

    def __init__(self, skip: bool = False) -> None:
        self.skip = skip
        # Shared with the data loader workers, which fork after before_train (mmengine's
        # default start method; the wrapped datasets would not pickle for 'spawn').
        self._skipped = multiprocessing.Value('i', 0)
        self._reported = 0

    def _guard(self, loader: Any, skip: bool) -> None:
        for dataset in _leaves(getattr(loader, 'dataset', None)):
            if not hasattr(dataset.prepare_data, '__wrapped__'):
                dataset.prepare_data = _guarded(dataset, skip, self._skipped)

    def before_train(self, runner) -> None:
        self._guard(runner.train_dataloader, self.skip)
        if runner.val_loop is not None:
            self._guard(runner.val_dataloader, False)

    def before_val(self, runner) -> None:
        self._guard(runner.val_dataloader, False)

    def before_test(self, runner) -> None:
        self._guard(runner.test_dataloader, False)

    def after_train_epoch(self, runner) -> None:
        total = self._skipped.value
        if total > self._reported:
            runner.logger.warning(
                f'skipped {total - self._reported} bad training samples since the last report '
                f'({total} in all; each is named in a warning above)'
            )
            self._reported = total

    def after_train(self, runner) -> None:
        self.after_train_epoch(runner)  # iteration-based loops end no epoch before this
