import os
import os.path as osp

import pytest

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


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
