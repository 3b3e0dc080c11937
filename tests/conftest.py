import importlib.util
import os
import os.path as osp
import sys

import pytest

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
# Small fixtures made with the authors' code (copied from shared/reference): they ship with the
# repository, so parity is tested in every clone.
DATA_DIR = osp.join(REPO_ROOT, 'tests', 'data')


def load_tool(*parts: str):
    """Import a script under ``tools/`` as a module (``tools/`` is not a package)."""
    name = 'tool_' + '_'.join(osp.splitext(part)[0] for part in parts)
    spec = importlib.util.spec_from_file_location(name, osp.join(REPO_ROOT, 'tools', *parts))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses resolve their annotations through sys.modules
    spec.loader.exec_module(module)
    return module


def pytest_collection_modifyitems(items):
    """Everything under tests/test_e2e is an end-to-end run (``-m "not e2e"`` leaves them out)."""
    e2e_dir = osp.join(REPO_ROOT, 'tests', 'test_e2e') + os.sep
    for item in items:
        if str(item.path).startswith(e2e_dir):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope='session')
def repo_root():
    return REPO_ROOT


@pytest.fixture(scope='session')
def reference_dir():
    """The authors' full-size reference outputs (``official_*_tiny.pt``: shared/reference beside
    the checkout, or $DFVT_REFERENCE_DIR). Missing in CI is a failure, elsewhere a skip; the mini
    fixtures in tests/data cover the same computation in every clone."""
    path = os.environ.get(
        'DFVT_REFERENCE_DIR', osp.join(osp.dirname(REPO_ROOT), 'shared', 'reference')
    )
    if not osp.isfile(osp.join(path, 'official_state_dict_layout.json')):
        if os.environ.get('CI'):
            pytest.fail(f'reference fixtures not found at {path}')
        pytest.skip(f'reference fixtures not found at {path} (set DFVT_REFERENCE_DIR)')
    return path


@pytest.fixture(scope='session', params=['mini', 'tiny'])
def official(request):
    """One set of the authors' reference outputs, as ``(name, cls_path, det_path)``: ``mini`` (a
    custom arch, in tests/data, always there) and ``tiny`` (DFvT-T, from the reference dir)."""
    if request.param == 'mini':
        folder = DATA_DIR
    else:
        folder = request.getfixturevalue('reference_dir')
    return tuple(
        [request.param]
        + [osp.join(folder, f'official_{task}_{request.param}.pt') for task in ('cls', 'det')]
    )


@pytest.fixture(scope='session')
def layout():
    """The authors' state-dict keys and shapes per arch and task (tests/helpers.py)."""
    from tests.helpers import official_layout

    return official_layout()
