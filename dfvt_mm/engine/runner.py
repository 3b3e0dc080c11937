"""What ``tools/train.py`` and ``tools/test.py`` share: loading a config of any of the three tasks
and making it run here (distributed runs included, with or without GPUs), crash-safe checkpoints
and one-line errors for bad checkpoints and bad samples."""

from __future__ import annotations

import argparse
import contextlib
import os
import os.path as osp
import sys
from collections.abc import Iterator, Sequence

import torch
import torch.distributed as dist
from mmengine.config import Config, DictAction
from mmengine.hooks import CheckpointHook
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from ..utils.checkpoint import CheckpointError
from ..utils.tasks import SCOPES as TASKS
from .bad_samples import BadSampleError, BadSampleHook


def parse_run_args(
    parser: argparse.ArgumentParser, argv: Sequence[str] | None, example: str
) -> argparse.Namespace:
    """Add what every run tool takes, as mmengine's tools name it (``--cfg-options``,
    ``--launcher``, ``--local_rank``), parse ``argv`` and export ``LOCAL_RANK`` for the
    launcher. ``example`` is the ``--cfg-options`` help's example setting."""
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help=f'override config settings, e.g. {example}',
    )
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


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


def add_safety_hooks(cfg: Config, skip_bad_samples: bool = False) -> None:
    """Make a config's run crash-safe and its bad samples one line (changed in place).

    A plain ``CheckpointHook`` becomes :class:`~dfvt_mm.engine.crash_safe.CrashSafeCheckpointHook`
    (same arguments; the configs here name it already), and a
    :class:`~dfvt_mm.engine.bad_samples.BadSampleHook` is added unless the config has one.

    Args:
        cfg: The loaded config.
        skip_bad_samples: Skip bad training samples instead of stopping (see BadSampleHook).
    """
    checkpoint = (cfg.get('default_hooks') or {}).get('checkpoint')
    if checkpoint is not None and checkpoint.get('type') in ('CheckpointHook', CheckpointHook):
        checkpoint['type'] = 'CrashSafeCheckpointHook'
    hooks = list(cfg.get('custom_hooks') or [])
    mine = [h for h in hooks if h.get('type') in ('BadSampleHook', BadSampleHook)]
    if not mine:
        hooks.append(dict(type='BadSampleHook'))
        mine = hooks[-1:]
    if skip_bad_samples:
        mine[0]['skip'] = True
    cfg.custom_hooks = hooks


def load_config(
    path: str,
    launcher: str = 'none',
    cfg_options: dict | None = None,
    work_dir: str | None = None,
    skip_bad_samples: bool = False,
) -> tuple[Config, str]:
    """Load a config as the tools do: overrides, launcher, work dir (default
    ``work_dirs/<config name>``), :func:`prepare_config` and :func:`add_safety_hooks`.

    Returns:
        The config and its task (``default_scope``).
    """
    cfg = Config.fromfile(path)
    cfg.launcher = launcher
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    task = prepare_config(cfg, tasks=TASKS)
    add_safety_hooks(cfg, skip_bad_samples)
    if work_dir:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(path))[0])
    return cfg, task


def build_runner(cfg: Config) -> Runner:
    """The config's runner: its ``runner_type`` if it names one, else mmengine's Runner."""
    return RUNNERS.build(cfg) if 'runner_type' in cfg else Runner.from_cfg(cfg)


def _original_message(e: BaseException) -> str:
    """The message of an exception, without the traceback that a data loader worker's
    re-raise puts in front of it ("Caught X in DataLoader worker process 0. Original ...")."""
    text = str(e)
    if 'Original Traceback' not in text:
        return text
    marker = f'{type(e).__name__}: '
    last = [line for line in text.splitlines() if marker in line]
    return last[-1].split(marker, 1)[1] if last else text.strip().splitlines()[-1]


@contextlib.contextmanager
def exit_on_bad_input() -> Iterator[None]:
    """Turn a bad checkpoint or a bad sample into a one-line exit (``error: ...``).

    A :class:`~dfvt_mm.utils.checkpoint.CheckpointError` (missing, corrupt or refused
    checkpoint; no intact checkpoint to resume), a missing checkpoint file and a
    :class:`~dfvt_mm.engine.bad_samples.BadSampleError` exit with their one line; anything else
    keeps its traceback.
    """
    try:
        yield
    except (CheckpointError, BadSampleError, FileNotFoundError) as e:
        sys.exit(f'error: {_original_message(e)}')
