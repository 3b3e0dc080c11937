"""What ``tools/train.py`` and ``tools/test.py`` do to a config before building the Runner."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from mmengine.config import Config


def prepare_config(cfg: Config, tasks: Sequence[str]) -> str:
    """Check the config's task and make distributed runs work without GPUs.

    Args:
        cfg: The loaded config (changed in place).
        tasks: The ``default_scope`` values the tools support.

    Returns:
        The task: the config's ``default_scope``.
    """
    scope = cfg.get('default_scope')
    if scope not in tasks:
        raise ValueError(
            f'{cfg.filename}: default_scope is {scope!r}; the tools run configs of '
            f'{list(tasks)} (inherit one of their bases, e.g. "mmdet::...", '
            f'or set default_scope)'
        )
    if not torch.cuda.is_available():
        # NCCL needs GPUs; gloo runs the same distributed code on CPU processes.
        cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})['backend'] = 'gloo'
    return scope
