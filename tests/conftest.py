import importlib.util
import os
import os.path as osp
import sys

import pytest

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def load_tool(*parts: str):
    """Import a script under ``tools/`` as a module (``tools/`` is not a package)."""
    name = 'tool_' + '_'.join(osp.splitext(part)[0] for part in parts)
    spec = importlib.util.spec_from_file_location(name, osp.join(REPO_ROOT, 'tools', *parts))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses resolve their annotations through sys.modules
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='session')
def repo_root():
    return REPO_ROOT


@pytest.fixture(scope='session')
def reference_dir():
    """The authors' reference outputs (shared/reference beside the checkout, or
    $DFVT_REFERENCE_DIR). Missing in CI is a failure, elsewhere a skip."""
    path = os.environ.get(
        'DFVT_REFERENCE_DIR', osp.join(osp.dirname(REPO_ROOT), 'shared', 'reference')
    )
    if not osp.isfile(osp.join(path, 'official_state_dict_layout.json')):
        if os.environ.get('CI'):
            pytest.fail(f'reference fixtures not found at {path}')
        pytest.skip(f'reference fixtures not found at {path} (set DFVT_REFERENCE_DIR)')
    return path
