"""The package as pip installs it: `mim` finds the model index, configs and tools under
dfvt_mm/.mim (setup.py puts them there), so `mim search dfvt_mm` lists the nine models."""

import os
import shutil
import subprocess
import sys

from tests.conftest import REPO_ROOT

# What setup.py and the package need; a copy, because building a wheel writes dfvt_mm/.mim.
SOURCES = (
    'setup.py',
    'README.md',
    'model-index.yml',
    'requirements',
    'dfvt_mm',
    'configs',
    'tools',
)


def test_mim_search_lists_the_nine_models_of_an_installed_package(tmp_path):
    src, target = tmp_path / 'src', tmp_path / 'site'
    ignore = shutil.ignore_patterns('__pycache__', '.mim')
    for name in SOURCES:
        path = os.path.join(REPO_ROOT, name)
        if os.path.isdir(path):
            shutil.copytree(path, src / name, ignore=ignore)
        else:
            src.mkdir(exist_ok=True)
            shutil.copy(path, src / name)
    shutil.rmtree(src / 'dfvt_mm' / '.mim', ignore_errors=True)
    pip = [sys.executable, '-m', 'pip', 'install', '-q', '--no-deps', '--no-build-isolation']
    subprocess.run([*pip, '--target', str(target), str(src)], check=True, capture_output=True)
    assert (target / 'dfvt_mm' / '.mim' / 'model-index.yml').is_file()
    assert (target / 'dfvt_mm' / '.mim' / 'configs' / 'metafiles' / 'detection.yml').is_file()
    assert (target / 'dfvt_mm' / '.mim' / 'tools' / 'train.py').is_file()
    mim = os.path.join(os.path.dirname(sys.executable), 'mim')
    fields = ['parameters', 'flops', 'imagenet-1k/top_1_accuracy']
    out = subprocess.run(
        [mim, 'search', 'dfvt_mm', '--field', *fields, '--display-width', '200'],
        env={**os.environ, 'PYTHONPATH': str(target)},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    ids = [line.split(': ')[1] for line in out.splitlines() if line.startswith('config id: ')]
    assert sorted(ids) == sorted(
        f'{prefix}dfvt_{size}_{data}'
        for prefix, data in (('', 'in1k'), ('mask_rcnn_', 'coco'), ('upernet_', 'ade20k'))
        for size in 'tsb'
    )
    tiny = out.split('config id: dfvt_t_in1k')[1].split('config id:')[0].split()
    assert tiny[tiny.index('parameters') + 1] == '4000000'  # the paper's 4.0 M
    assert tiny[tiny.index('flops') + 1] == '300000000'  # the paper's 0.3 G
    assert tiny[tiny.index('imagenet-1k/top_1_accuracy') + 1] == '73.0'


def test_mim_finds_the_package_in_the_readme_environment():
    """`make setup`'s environment (tools/bootstrap.sh: the checkout on the venv's path, its
    metadata beside it): mim locates dfvt_mm in the checkout, whose .mim links to the model index,
    configs and tools. A plain `pip install -e .` fails this (mim looks in site-packages)."""
    from mim.utils import get_installed_path

    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    where = "from mim.utils import get_installed_path as g; print(g('dfvt_mm'))"
    found = subprocess.run(
        [sys.executable, '-c', where],
        env=env,
        cwd='/',
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert os.path.realpath(found) == os.path.realpath(os.path.join(REPO_ROOT, 'dfvt_mm'))
    assert get_installed_path('dfvt_mm') == found
    for name in ('model-index.yml', 'configs', 'tools'):
        assert os.path.exists(os.path.join(found, '.mim', name)), name
    mim = os.path.join(os.path.dirname(sys.executable), 'mim')
    out = subprocess.run(
        [mim, 'search', 'dfvt_mm', '--display-width', '200'],
        env=env,
        cwd='/',
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    ids = [line.split(': ')[1] for line in out.splitlines() if line.startswith('config id: ')]
    assert len(ids) == 9 and 'mask_rcnn_dfvt_b_coco' in ids
