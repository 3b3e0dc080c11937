import subprocess
import sys


def ruff(repo_root, *args):
    return subprocess.run(
        [sys.executable, '-m', 'ruff', *args, '--no-cache', '.'],
        cwd=repo_root,
        capture_output=True,
        text=True,
    )


def test_ruff_check(repo_root):
    result = ruff(repo_root, 'check')
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format(repo_root):
    result = ruff(repo_root, 'format', '--check')
    assert result.returncode == 0, result.stdout + result.stderr
