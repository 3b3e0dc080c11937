"""mmengine hooks of this package, registered in mmengine's root ``HOOKS`` registry (which the
mmpretrain, mmdet and mmseg registries search)."""

from __future__ import annotations

import json
import os
import time

from mmengine.hooks import Hook
from mmengine.registry import HOOKS


@HOOKS.register_module()
class ProgressHook(Hook):
    """Write a run's progress to a small json file that another process can poll.

    The file holds ``{"phase": "train" | "val" | "done", "iter": int, "max_iters": int}`` and is
    replaced atomically, at most every ``min_interval`` seconds while training and at every phase
    change. The main job (``tools/toy_tasks.py``) draws its progress bars from it.

    Args:
        path: File to write.
        min_interval: Seconds between two writes while training.
    """

    priority = 'VERY_LOW'

    def __init__(self, path: str, min_interval: float = 0.5) -> None:
        self.path = path
        self.min_interval = min_interval
        self._last = 0.0

    def _write(self, runner, phase: str) -> None:
        tmp = f'{self.path}.tmp'
        with open(tmp, 'w') as f:
            json.dump(dict(phase=phase, iter=runner.iter, max_iters=runner.max_iters), f)
        os.replace(tmp, self.path)
        self._last = time.monotonic()

    def before_train(self, runner) -> None:
        self._write(runner, 'train')

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if time.monotonic() - self._last >= self.min_interval:
            self._write(runner, 'train')

    def before_val(self, runner) -> None:
        self._write(runner, 'val')

    def after_val(self, runner) -> None:
        self._write(runner, 'train')

    def after_train(self, runner) -> None:
        self._write(runner, 'done')
