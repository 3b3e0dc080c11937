"""What ``tools/train.py`` and ``tools/test.py`` share: loading a config of any of the three tasks
and making it run here (distributed runs included, with or without GPUs)."""

from __future__ import annotations

import os.path as osp
from collections.abc import Sequence

import torch
import torch.distributed as dist
from mmengine.config import Config
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

TASKS = ('mmpretrain', 'mmdet', 'mmseg')


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


def load_config(
    path: str, launcher: str = 'none', cfg_options: dict | None = None, work_dir: str | None = None
) -> tuple[Config, str]:
    """Load a config as the tools do: overrides, launcher, work dir (default
    ``work_dirs/<config name>``) and :func:`prepare_config`.

    Returns:
        The config and its task (``default_scope``).
    """
    cfg = Config.fromfile(path)
    cfg.launcher = launcher
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    task = prepare_config(cfg, tasks=TASKS)
    if work_dir:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(path))[0])
    return cfg, task


def build_runner(cfg: Config) -> Runner:
    """The config's runner: its ``runner_type`` if it names one, else mmengine's Runner."""
    return RUNNERS.build(cfg) if 'runner_type' in cfg else Runner.from_cfg(cfg)
