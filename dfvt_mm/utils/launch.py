"""What ``tools/train.py`` and ``tools/test.py`` do to a config before building the Runner."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.distributed as dist
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
        if cfg.get('launcher', 'none') != 'none':
            # mmengine passes device_ids=[LOCAL_RANK] to DDP, which CPU modules refuse; a value
            # in model_wrapper_cfg takes precedence over that default.
            wrapper = cfg.get('model_wrapper_cfg') or dict(
                type='MMDistributedDataParallel',
                broadcast_buffers=False,
                find_unused_parameters=cfg.get('find_unused_parameters', False),
            )
            wrapper['device_ids'] = None
            cfg.model_wrapper_cfg = wrapper
        if cfg.get('launcher') == 'pytorch' and not dist.is_initialized():
            # mmengine's init_dist calls torch.cuda.set_device unconditionally; the Runner skips
            # it when a process group exists, so start one over gloo from torchrun's environment.
            dist.init_process_group(backend='gloo')
    return scope
