import os
import re
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT


def run_tool(args, cwd, timeout=1800, env=None):
    """Run a repo tool (or any command) the way a user does, failing with its output."""
    cmd = [sys.executable, *args] if args[0].endswith('.py') else list(args)
    full_env = {**os.environ, 'PYTHONUNBUFFERED': '1', **(env or {})}
    result = subprocess.run(
        cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=full_env
    )
    assert result.returncode == 0, f'{" ".join(map(str, cmd))} failed:\n' + (
        result.stdout[-4000:] + result.stderr[-4000:]
    )
    return result.stdout + result.stderr


def tool(*parts):
    return os.path.join(REPO_ROOT, 'tools', *parts)


def config(*parts):
    return os.path.join(REPO_ROOT, 'configs', *parts)


def last_metric(log: str, name: str) -> float:
    values = re.findall(rf'{re.escape(name)}: ([0-9.]+)', log)
    assert values, f'{name} not found in the output'
    return float(values[-1])


@pytest.fixture(scope='session')
def mim():
    return [os.path.join(os.path.dirname(sys.executable), 'mim')]
