"""A bad sample stops tools/train.py and tools/test.py with one line, for all three tasks: the
file, what is wrong with it, what to do; ``--skip-bad-samples`` trains past it and counts it.

Each case copies a tiny toy dataset and breaks one file in it: a truncated image, an image that
is not one, a file the annotations name that is missing, a corrupt segmentation map.
"""

from __future__ import annotations

import glob
import os
import os.path as osp
import shutil

import pytest

from dfvt_mm.engine import test as test_tool
from dfvt_mm.engine import train as train_tool
from dfvt_mm.engine.bad_samples import file_problem

from .conftest import CONFIGS, LOADERS, as_args, data_options

# Where each toy dataset keeps its training and validation images (and segmentation maps).
IMAGES = {
    'cls': ('train/*/*.png', 'val/*/*.png'),
    'det': ('train2017/*.png', 'val2017/*.png'),
    'seg': ('images/training/*', 'images/validation/*'),
}
SEG_MAPS = 'annotations/training/*.png'


def run(tool, args: list[str]) -> str:
    """A tool's main in-process: ``'ok'``, or the message it exits with."""
    try:
        tool.main([str(a) for a in args])
    except SystemExit as e:
        return str(e.code)
    return 'ok'


@pytest.fixture
def dataset(toys, tmp_path, request):
    task = request.param
    root = tmp_path / f'toy_{task}'
    shutil.copytree(toys.data[task], root)
    return task, root


def one_of(root, pattern: str) -> str:
    return sorted(glob.glob(osp.join(root, pattern)))[0]


def options(task, root, work_dir, **extra) -> list[str]:
    opts = {
        **data_options(task, str(root)),
        **LOADERS,
        # the shortest runs the toy schedules allow (the cosine decay starts at epoch 2)
        **({'train_cfg.max_iters': 1} if task == 'seg' else {}),
        **({'train_cfg.max_epochs': 3 if task == 'cls' else 1} if task != 'seg' else {}),
        'train_dataloader.batch_size': 2,
        'model.backbone.init_cfg': None,
        **extra,
    }
    if task == 'seg':
        opts['train_cfg.val_interval'] = 10
    return ['--work-dir', work_dir, *as_args(opts)]


def truncate(path):
    with open(path, 'r+b') as f:
        f.truncate(os.path.getsize(path) // 3)


def break_file(path, how: str) -> None:
    if how == 'truncated':
        truncate(path)
    elif how == 'not an image':
        with open(path, 'w') as f:
            f.write('<html>this is not an image</html>')
    else:
        os.remove(path)


def assert_one_line(message: str, path: str, problem: str) -> None:
    assert message.startswith('error: ') and '\n' not in message, message
    assert path in message and any(p in message for p in problem.split('|')), message
    assert 'remove it from the dataset' in message, message  # what to do


EXPECTED = {
    'truncated': 'cannot be decoded|is truncated',  # OpenCV decodes part of a cut JPEG
    'not an image': 'cannot be decoded',
    'missing': 'does not exist',
}


@pytest.mark.parametrize('dataset', ['cls', 'det', 'seg'], indirect=True)
def test_a_truncated_training_image_is_one_line(dataset, tmp_path):
    task, root = dataset
    path = one_of(root, IMAGES[task][0])
    break_file(path, 'truncated')
    message = run(train_tool, [CONFIGS[task], *options(task, root, tmp_path / 'run')])
    assert_one_line(message, path, EXPECTED['truncated'])


# Files that annotations name: COCO's json names each image, ADE20K pairs each image with a map.
# (A folder-listed dataset, ImageNet's layout, has no entry for a file that is not there.)
@pytest.mark.parametrize(
    ('dataset', 'pattern'), [('det', IMAGES['det'][0]), ('seg', SEG_MAPS)], indirect=['dataset']
)
def test_an_annotation_naming_a_missing_file_is_one_line(dataset, pattern, tmp_path):
    task, root = dataset
    path = one_of(root, pattern)
    break_file(path, 'missing')
    message = run(train_tool, [CONFIGS[task], *options(task, root, tmp_path / 'run')])
    assert_one_line(message, path, EXPECTED['missing'])


@pytest.mark.parametrize('dataset', ['cls', 'det', 'seg'], indirect=True)
def test_a_bad_test_image_is_one_line(dataset, tmp_path, toys):
    task, root = dataset
    path = one_of(root, IMAGES[task][1])
    break_file(path, 'not an image')
    message = run(
        test_tool, [CONFIGS[task], toys.checkpoint(task), *options(task, root, tmp_path / 'run')]
    )
    assert_one_line(message, path, 'cannot be decoded')


@pytest.mark.parametrize('dataset', ['seg'], indirect=True)
def test_a_corrupt_segmentation_map_is_one_line(dataset, tmp_path):
    """PIL's own error for a corrupt PNG names no file at all."""
    _, root = dataset
    path = one_of(root, SEG_MAPS)
    break_file(path, 'truncated')
    message = run(train_tool, [CONFIGS['seg'], *options('seg', root, tmp_path / 'run')])
    assert_one_line(message, path, EXPECTED['truncated'])


@pytest.mark.parametrize('dataset', ['cls'], indirect=True)
def test_a_bad_sample_in_a_worker_process_is_one_line(dataset, tmp_path):
    """The data loader re-raises a worker's error with the worker's traceback in front."""
    task, root = dataset
    path = one_of(root, IMAGES[task][0])
    break_file(path, 'truncated')
    args = options(task, root, tmp_path / 'run', **{'train_dataloader.num_workers': 1})
    assert_one_line(run(train_tool, [CONFIGS[task], *args]), path, EXPECTED['truncated'])


@pytest.mark.parametrize('dataset', ['cls', 'det'], indirect=True)
def test_skip_bad_samples_trains_past_them_and_counts_them(dataset, tmp_path, capsys):
    task, root = dataset
    bad = sorted(glob.glob(osp.join(root, IMAGES[task][0])))[:1]
    for path in bad:
        break_file(path, 'truncated')
    work_dir = tmp_path / 'run'
    args = options(task, root, work_dir, **{'train_cfg.val_interval': 10})
    assert run(train_tool, [CONFIGS[task], *args, '--skip-bad-samples']) == 'ok'
    assert glob.glob(str(work_dir / '*.pth'))  # trained to the end and saved
    logs = ''.join(open(p).read() for p in glob.glob(str(work_dir / '*' / '*.log')))
    assert 'skipping training sample' in logs and bad[0] in logs
    assert 'bad training samples since the last report' in logs


def test_file_problem_says_what_is_wrong(tmp_path, toys):
    good = one_of(toys.data['cls'], IMAGES['cls'][0])
    assert file_problem(good) is None
    assert file_problem(str(tmp_path / 'nothing.png')) == 'does not exist'
    assert file_problem(str(tmp_path)) == 'is not a file'
    (tmp_path / 'empty.png').write_bytes(b'')
    assert file_problem(str(tmp_path / 'empty.png')) == 'is empty'
    shutil.copy(good, tmp_path / 'cut.png')
    truncate(tmp_path / 'cut.png')
    assert file_problem(str(tmp_path / 'cut.png')).startswith(('cannot be decoded', 'is truncated'))
