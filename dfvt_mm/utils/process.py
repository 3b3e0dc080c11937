"""Running a command in a process of its own, its output in a log: how the package trains."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence

#: Characters of the log that a failure's message ends with.
TAIL = 3000


def train_command(config: str, work_dir: str, *args: str) -> list[str]:
    """The command that trains ``config`` into ``work_dir``: :mod:`dfvt_mm.engine.train`,
    which takes ``tools/train.py``'s arguments (``args``: more of them)."""
    return [sys.executable, '-m', 'dfvt_mm.engine.train', config, '--work-dir', work_dir, *args]


def run_logged(cmd: Sequence[str], log_path: str, poll: Callable[[], None] | None = None) -> float:
    """Run ``cmd`` with its output and errors in ``log_path`` (unbuffered, so the log follows
    the run); ``poll()``, if given, is called every half second while it runs.

    Returns:
        The wall time of the run in seconds.

    Raises:
        RuntimeError: The command failed; the message names it and ends with the log's tail.
    """
    start = time.perf_counter()
    with open(log_path, 'w') as log:
        proc = subprocess.Popen(
            list(cmd),
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, 'PYTHONUNBUFFERED': '1'},
        )
        while True:
            try:
                proc.wait(timeout=0.5)
                break
            except subprocess.TimeoutExpired:
                if poll is not None:
                    poll()
    if proc.returncode != 0:
        with open(log_path) as f:
            tail = f.read()[-TAIL:]
        raise RuntimeError(
            f'{" ".join(cmd)} failed (exit {proc.returncode}); {log_path} ends:\n{tail}'
        )
    return time.perf_counter() - start
