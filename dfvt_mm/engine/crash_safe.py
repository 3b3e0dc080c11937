"""Training runs that lose nothing on a crash: crash-safe checkpoints and resuming past a bad one.

mmengine 0.10.7 writes a checkpoint in place, then ``last_checkpoint`` in place, and with
``max_keep_ckpts`` it deletes the oldest checkpoint *before* writing the new one. A kill or a
power loss during a save can so leave a truncated newest checkpoint, an empty ``last_checkpoint``,
or no checkpoint at all. Here:

- :class:`CrashSafeCheckpointHook`, mmengine's ``CheckpointHook`` that writes each checkpoint
  (the best ones too) to a temporary file beside it, fsyncs it, renames it into place and
  fsyncs the folder; then replaces ``last_checkpoint`` the same way (:func:`atomic_write`), and
  removes the checkpoints beyond ``max_keep_ckpts`` only after that. It also keeps the run's
  random number streams in the checkpoint so that a resumed run draws what the uninterrupted
  one would. The configs here name it, and ``tools/train.py`` puts it in place of a plain
  ``CheckpointHook`` in any config.
- :func:`find_resumable_checkpoint`, what ``--resume`` without a path resumes from: the newest
  intact checkpoint, with one warning line for each newer one that is truncated or corrupt.

A kill at any moment of a save leaves the previous checkpoint and ``last_checkpoint`` as they
were; at worst a ``*.tmp`` file is left, which the next run's hook removes.
"""

from __future__ import annotations

import contextlib
import glob
import logging
import os
import os.path as osp
import random
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from typing import IO, Any

import numpy as np
import torch
from mmengine.dist import is_main_process
from mmengine.hooks import CheckpointHook
from mmengine.logging import print_log
from mmengine.registry import HOOKS

from ..utils.checkpoint import CorruptCheckpointError, load_from_local

#: The file in a work dir that names the newest checkpoint (mmengine's name).
LAST_CHECKPOINT = 'last_checkpoint'
# Temporary files are named <target>.<random>.tmp: they never match mmengine's *.pth patterns.
_TMP_SUFFIX = '.tmp'
# What torch.save's zip archives start with.
_ZIP_MAGIC = b'PK\x03\x04'
# The message hub key of the random number states saved with each checkpoint.
_RNG_KEY = 'dfvt_mm_rng_state'


def _fsync_dir(directory: str) -> None:
    """Make a rename in ``directory`` durable (POSIX; a no-op where folders cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: str, write: Callable[[IO[bytes]], Any]) -> None:
    """Write a file so that a crash leaves either the old file or the whole new one.

    ``write`` fills a temporary file in the same folder; it is flushed and fsynced, then renamed
    over ``path`` (atomic on POSIX) and the folder is fsynced. If ``write`` fails, the temporary
    file is removed and ``path`` is untouched.

    Args:
        path: The file to write.
        write: Called with the open binary file.
    """
    directory = osp.dirname(osp.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=osp.basename(path) + '.', suffix=_TMP_SUFFIX, dir=directory)
    try:
        with os.fdopen(fd, 'wb') as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise
    _fsync_dir(directory)


def checkpoint_problem(path: str) -> str | None:
    """What is wrong with a checkpoint file, in a few words; None if it is intact.

    torch.save writes a zip archive: one whose every member passes its CRC check is whole, and
    one that lost its end (the central directory) is truncated. A file in torch's legacy format
    is checked by loading it with the safe loader, which runs no code from it.
    """
    if not osp.isfile(path):
        return 'missing'
    if osp.getsize(path) == 0:
        return 'empty'
    with open(path, 'rb') as f:
        zipped = f.read(4) == _ZIP_MAGIC
    if zipped:
        try:
            with zipfile.ZipFile(path) as archive:
                bad = archive.testzip()
        except (zipfile.BadZipFile, OSError, EOFError) as e:
            return f'truncated or corrupt ({e})'
        return None if bad is None else f'corrupt (its part {bad} fails its CRC check)'
    try:
        load_from_local(path, map_location='cpu')
    except (CorruptCheckpointError, OSError):
        return 'truncated or corrupt (neither a whole zip archive nor a legacy torch file)'
    return None


def _checkpoints_newest_first(work_dir: str, named: str | None) -> list[str]:
    """The checkpoint named by ``last_checkpoint`` first, then the others of its folder and of
    the work dir, newest first (best checkpoints hold no optimizer: they cannot be resumed)."""
    folders = {work_dir} | ({osp.dirname(named)} if named else set())
    found = {
        path
        for folder in folders
        for path in glob.glob(osp.join(folder, '*.pth'))
        if not osp.basename(path).startswith('best_')
    }
    others = sorted(found - {named}, key=lambda p: (osp.getmtime(p), p), reverse=True)
    return ([named] if named else []) + others


def find_resumable_checkpoint(work_dir: str) -> str | None:
    """The checkpoint that ``--resume`` (auto) resumes from: the newest intact one.

    Starts at the file ``last_checkpoint`` names, then the other checkpoints of the work dir,
    newest first. Each bad one is skipped with one warning line that names it.

    Args:
        work_dir: The run's work dir.

    Returns:
        The checkpoint's path, or None if the work dir has no checkpoint (a fresh start).

    Raises:
        CorruptCheckpointError: There are checkpoints, and none is intact.
    """
    pointer = osp.join(work_dir, LAST_CHECKPOINT)
    named = None
    if osp.isfile(pointer):
        with open(pointer) as f:
            named = f.read().strip() or None
    candidates = _checkpoints_newest_first(work_dir, named)
    if not candidates:
        print_log(f'no checkpoint in {work_dir} to resume from: training from the start')
        return None
    skipped = []
    for path in candidates:
        problem = checkpoint_problem(path)
        if problem is None:
            if skipped:
                print_log(f'resuming from {path}, the newest intact checkpoint', logger='current')
            return path
        if path == named and problem == 'missing' and len(candidates) > 1:
            problem = f'missing (named by {pointer})'
        print_log(f'skipping checkpoint {path}: {problem}', logger='current', level=logging.WARNING)
        skipped.append(path)
    raise CorruptCheckpointError(
        f'no intact checkpoint to resume from in {work_dir} ({len(skipped)} truncated, corrupt or '
        f'missing: {", ".join(osp.basename(p) for p in skipped)}); train without --resume to '
        f'start over, or pass --resume PATH to a checkpoint you have elsewhere'
    )


def _rng_state() -> dict:
    """The random number states of this process: Python's, numpy's, torch's (and CUDA's)."""
    state = dict(python=random.getstate(), numpy=np.random.get_state(), torch=torch.get_rng_state())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict) -> None:
    random.setstate(state['python'])
    np.random.set_state(state['numpy'])
    torch.set_rng_state(state['torch'])
    if 'cuda' in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state['cuda'])


@HOOKS.register_module()
class CrashSafeCheckpointHook(CheckpointHook):
    """mmengine's ``CheckpointHook``, crash-safe: a kill at any moment of a save leaves the
    previous checkpoint and ``last_checkpoint`` intact.

    It takes ``CheckpointHook``'s arguments. The differences:

    - every checkpoint it saves, the best ones included, is written to ``<name>.tmp`` first,
      fsynced and renamed into place; ``last_checkpoint`` is replaced the same way, after the
      checkpoint (mmengine's hook writes both in place). mmengine's hook removes the previous
      best checkpoint before it saves a new one: a crash in between leaves no best checkpoint,
      while the resumable ones stay intact;
    - with ``max_keep_ckpts``, the oldest checkpoint is removed after the new one is saved, not
      before;
    - the random number states (Python, numpy, torch) at the save go into the checkpoint's
      message hub and are restored when a run resumes from it, so that the resumed run draws the
      same numbers as the uninterrupted one. Data loader workers draw from their own streams:
      with ``persistent_workers=True`` those continue across epochs and cannot be restored, so
      a resumed run is exact with ``persistent_workers=False`` (mmengine seeds new workers the
      same way every epoch) or ``num_workers=0``;
    - ``*.tmp`` files that an interrupted save left in the output folder are removed when
      training starts.

    Example:
        >>> default_hooks = dict(checkpoint=dict(type='CrashSafeCheckpointHook', interval=1))
    """

    @contextlib.contextmanager
    def _atomic_saves(self, runner) -> Iterator[None]:
        """Within the block, ``runner.save_checkpoint`` writes crash-safe: mmengine's method
        saves to a temporary name, which is fsynced and renamed into place."""
        remote = '://' in str(self.out_dir) or self.backend_args or self.file_client_args
        if remote or 'save_checkpoint' in vars(runner):  # another backend, or wrapped already
            yield
            return
        save = runner.save_checkpoint

        def save_atomic(out_dir: str, filename: str, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
            path = osp.join(out_dir, filename)
            fd, tmp = tempfile.mkstemp(prefix=filename + '.', suffix=_TMP_SUFFIX, dir=out_dir)
            os.close(fd)
            try:
                save(out_dir, osp.basename(tmp), *args, **kwargs)
                if is_main_process():  # mmengine saves on the main process only
                    with open(tmp, 'rb+') as f:
                        os.fsync(f.fileno())
                    os.replace(tmp, path)
                    _fsync_dir(out_dir)
            finally:
                if osp.exists(tmp):
                    os.remove(tmp)

        runner.save_checkpoint = save_atomic  # an instance attribute, for this block only
        try:
            yield
        finally:
            del runner.save_checkpoint

    def _save_best_checkpoint(self, runner, metrics) -> None:
        with self._atomic_saves(runner):
            super()._save_best_checkpoint(runner, metrics)

    def before_train(self, runner) -> None:
        super().before_train(runner)
        if is_main_process():
            patterns = (
                osp.join(str(self.out_dir), f'*.pth.*{_TMP_SUFFIX}'),
                osp.join(runner.work_dir, f'{LAST_CHECKPOINT}.*{_TMP_SUFFIX}'),
            )
            for tmp in (path for pattern in patterns for path in glob.glob(pattern)):
                os.remove(tmp)
        state = runner.message_hub.get_info(_RNG_KEY)
        if state is not None and runner.iter > 0:  # a resumed run
            _set_rng_state(state)

    def _save_checkpoint_with_step(self, runner, step: int, meta: dict) -> None:
        # CheckpointHook's bookkeeping (keep_ckpt_ids in the message hub, so that a resumed run
        # removes the same files), with the removal deferred until the new file is in place.
        expired = []
        if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids and self.keep_ckpt_ids[-1] == step):
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                expired.append(self.keep_ckpt_ids.popleft())
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids', list(self.keep_ckpt_ids))

        filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir, filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        runner.message_hub.update_info(_RNG_KEY, _rng_state())
        with self._atomic_saves(runner):
            runner.save_checkpoint(
                self.out_dir,
                filename,
                self.file_client_args,
                save_optimizer=self.save_optimizer,
                save_param_scheduler=self.save_param_scheduler,
                meta=meta,
                by_epoch=self.by_epoch,
                backend_args=self.backend_args,
                **self.args,
            )
        if not is_main_process():
            return
        text = str(self.last_ckpt).encode()
        atomic_write(osp.join(runner.work_dir, LAST_CHECKPOINT), lambda f: f.write(text))
        for old in expired:
            path = self.file_backend.join_path(self.out_dir, self.filename_tmpl.format(old))
            if path == self.last_ckpt:
                continue
            if self.file_backend.isfile(path):
                self.file_backend.remove(path)
            elif self.file_backend.isdir(path):  # DeepSpeed saves folders
                self.file_backend.rmtree(path)
