"""Each bad input tried, at the entry point a user meets it, and what it gets: ``works`` (the row's
entry checks the output), or the one line it fails with. Command-line tools exit with a single
``error: ...`` line (their ``main`` catches the package's one-line exceptions); library calls raise
one exception whose message is one line.

Checkpoints go through the converter, ``init_cfg=dict(type='Pretrained')`` and tools/test.py;
images through the demo tools (which fail before building a model) and the three inferencers they
use; datasets through the toy configs' training sets and a training step of their models.
"""

from __future__ import annotations

import json
import os.path as osp
import re
import shutil
import subprocess
import sys
from glob import glob

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope

from dfvt_mm.models import DFvT, convert_official_checkpoint
from dfvt_mm.toy import write_ade20k, write_classification, write_coco
from dfvt_mm.utils import CheckpointError
from tests.conftest import REPO_ROOT
from tests.helpers import MINI_CLS, fake_official, load_reference
from tests.test_bad_inputs.conftest import (
    CONFIGS,
    SCOPES,
    as_args,
    data_options,
    run_main,
)
from tests.unsafe_checkpoint import save_with_payload

REFUSED = r'refused to load it \(it calls exec\): .* set TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1 to load'
TINY_INTO_SMALL = (
    r'CheckpointArchError: .* is DFvT tiny \(embed 48, depths 1-1-2-1\), the model is DFvT small '
    r'\(embed 96, depths 1-1-2-1\): use the config of the checkpoint.s arch'
)
NOT_AN_IMAGE = r'error: .*not_an_image.png is not an image file \(mmcv cannot decode it\)'
# Through mmengine's load_checkpoint (tools/test.py, load_from, resume, the inferencers).
SMALL_INTO_TINY = (
    r'error: the checkpoint is DFvT small \(embed 96, depths 1-1-2-1\), the model is DFvT tiny '
    r'\(embed 48, depths 1-1-2-1\): use the config of the checkpoint.s arch'
)

# (input, entry point, what it gets: 'works' or a regex of the one line)
TABLE = [
    # Checkpoints
    (
        'truncated checkpoint',
        'converter',
        r'error: .* is truncated or corrupt \(PytorchStreamReader ',
    ),
    ('truncated checkpoint', 'tools/test.py', r'error: .* is truncated or corrupt'),
    ('empty file', 'converter', r'error: .* is not a torch checkpoint \(.*EOFError\)'),
    (
        'text file',
        'converter',
        r'error: .* is not a torch checkpoint \(neither a zip archive nor a pickle',
    ),
    ('missing checkpoint', 'converter', r'error: checkpoint file not found: .*missing.pth'),
    ('missing checkpoint', 'tools/test.py', r'error: checkpoint file not found: .*missing.pth'),
    ('malicious checkpoint', 'converter', rf'error: .*malicious.pth: {REFUSED}'),
    ('malicious checkpoint', 'init_cfg Pretrained, DFvT-T', rf'UnsafeCheckpointError: .*{REFUSED}'),
    (
        'converted checkpoint',
        'converter',
        r'error: .*: the checkpoint is already in dfvt_mm layout: load it directly',
    ),
    (
        'foreign checkpoint',
        'converter',
        r"error: .*: 1 of the checkpoint's 1 keys are not DFvT keys, e.g. \['conv.weight'\]",
    ),
    ("authors' DFvT-T weights", 'init_cfg Pretrained, DFvT-S', TINY_INTO_SMALL),
    ('converted DFvT-T weights', 'init_cfg Pretrained, DFvT-S', TINY_INTO_SMALL),
    (
        'converted mini weights',
        'init_cfg Pretrained, DFvT-T',
        r'CheckpointArchError: .* is DFvT custom \(embed 16, depths 2-2-1-1, heads 1-2-4-8, '
        r'mlp_ratio 2\), the model is DFvT tiny',
    ),
    ('converted DFvT-T weights', 'init_cfg Pretrained, DFvT-T', 'works'),
    ('converted DFvT-S weights', 'tools/test.py', SMALL_INTO_TINY),
    ('converted DFvT-S weights', 'classify_image.py, as its checkpoint', SMALL_INTO_TINY),
    # Images
    ('missing image', 'classify_image.py', r'error: .*No such file or directory: .*missing.png'),
    ('not an image', 'classify_image.py', NOT_AN_IMAGE),
    ('not an image', 'detect_image.py', NOT_AN_IMAGE),
    ('not an image', 'segment_image.py', NOT_AN_IMAGE),
    *[
        (image, f'{task} inferencer', 'works')
        for image in ('grayscale image', 'RGBA image', '16-bit image', '16x16 image')
        for task in ('classification', 'detection', 'segmentation')
    ],
    # Datasets
    *[
        (image, 'classification training set', 'works')
        for image in ('grayscale image', 'RGBA image', '16-bit image', '16x16 image')
    ],
    (
        'not an image',
        'classification training set',
        r'AssertionError: failed to load image: .*not_an_image.png',
    ),
    ('COCO image with no annotations', 'Mask R-CNN training set', 'left out (filter_empty_gt)'),
    ('COCO image with no annotations', 'Mask R-CNN train step, no filter', 'works'),
    ('ADE20K mask of only ignore labels', 'UperNet train step', 'works'),
]


class Case:
    """What a row's input and entry functions see."""

    def __init__(self, toys, tmp_path, monkeypatch):
        self.toys, self.tmp, self.monkeypatch = toys, tmp_path, monkeypatch


# --------------------------------------------------------------------------------------------
# Inputs: each writes one bad (or odd) input under case.tmp and returns its path.
# --------------------------------------------------------------------------------------------


def mini_official() -> dict[str, torch.Tensor]:
    return load_reference(MINI_CLS)[0]['state_dict']


def save(case: Case, name: str, obj) -> str:
    path = str(case.tmp / name)
    torch.save(obj, path)
    return path


def write(case: Case, name: str, data: bytes) -> str:
    (case.tmp / name).write_bytes(data)
    return str(case.tmp / name)


def malicious(case):
    path = str(case.tmp / 'malicious.pth')
    save_with_payload(dict(model=mini_official()), path, case.tmp / 'pwned')
    return path


def truncated(case):
    data = open(case.toys.cls_checkpoint, 'rb').read()
    path = case.tmp / 'truncated.pth'
    path.write_bytes(data[: len(data) // 2])
    return str(path)


def image(case, name, array):
    path = str(case.tmp / name)
    assert cv2.imwrite(path, array)
    return path


def colours(height=48, width=64, channels=3, dtype=np.uint8):
    rng = np.random.default_rng(0)
    top = np.iinfo(dtype).max
    return rng.integers(0, top, (height, width, channels), dtype=dtype, endpoint=True)


def empty_coco(case):
    """Two training images with shapes; the annotations of the first are then taken away."""
    root = str(case.tmp / 'coco_empty')
    write_coco(root, train=2, val=1, empty_prob=0.0)
    ann_file = osp.join(root, 'annotations', 'instances_train2017.json')
    with open(ann_file) as f:
        coco = json.load(f)
    kept = [a for a in coco['annotations'] if a['image_id'] != 1]
    assert 0 < len(kept) < len(coco['annotations'])
    with open(ann_file, 'w') as f:
        json.dump(dict(coco, annotations=kept), f)
    return root


def ignore_only_ade(case):
    root = str(case.tmp / 'ade_ignore')
    write_ade20k(root, train=1, val=1)
    (mask,) = glob(osp.join(root, 'annotations', 'training', '*.png'))
    # 0 is ADE20K's "unlabeled", which reduce_zero_label turns into the ignore label 255.
    assert cv2.imwrite(mask, np.zeros_like(cv2.imread(mask, cv2.IMREAD_UNCHANGED)))
    return root


INPUTS = {
    'truncated checkpoint': truncated,
    'empty file': lambda c: write(c, 'empty.pth', b''),
    'text file': lambda c: write(c, 'notes.pth', b'not a checkpoint\n'),
    'missing checkpoint': lambda c: str(c.tmp / 'missing.pth'),
    'malicious checkpoint': malicious,
    'converted checkpoint': lambda c: c.toys.cls_checkpoint,
    'foreign checkpoint': lambda c: save(
        c, 'foreign.pth', dict(model={'conv.weight': torch.ones(2)})
    ),
    "authors' DFvT-T weights": lambda c: save(
        c, 'official_t.pth', dict(model=fake_official('tiny'))
    ),
    'converted DFvT-T weights': lambda c: save(
        c, 'dfvt_t.pth', dict(state_dict=convert_official_checkpoint(fake_official('tiny'))[0])
    ),
    'converted DFvT-S weights': lambda c: save(
        c, 'dfvt_s.pth', dict(state_dict=convert_official_checkpoint(fake_official('small'))[0])
    ),
    'converted mini weights': lambda c: save(
        c, 'mini.pth', dict(state_dict=convert_official_checkpoint(mini_official())[0])
    ),
    'missing image': lambda c: str(c.tmp / 'missing.png'),
    'not an image': lambda c: write(c, 'not_an_image.png', b'a text file named .png\n'),
    'grayscale image': lambda c: image(c, 'gray.png', colours()[..., 0]),
    'RGBA image': lambda c: image(c, 'rgba.png', colours(channels=4)),
    '16-bit image': lambda c: image(c, 'deep.png', colours(dtype=np.uint16)),
    '16x16 image': lambda c: image(c, 'small.png', colours(16, 16)),
    'COCO image with no annotations': empty_coco,
    'ADE20K mask of only ignore labels': ignore_only_ade,
}


# --------------------------------------------------------------------------------------------
# Entry points: each takes the input's path and returns 'works' (after checking the output) or
# the one line it failed with.
# --------------------------------------------------------------------------------------------


def converter(case, path):
    return run_main(
        case.monkeypatch,
        ('model_converters', 'dfvt_official_to_mm.py'),
        [path, case.tmp / 'out.pth'],
    )


def tools_test(case, path):
    args = [CONFIGS['cls'], path, '--work-dir', case.tmp / 'test']
    return run_main(
        case.monkeypatch, ('test.py',), args + as_args(data_options('cls', case.toys.data['cls']))
    )


def pretrained(arch):
    def run(case, path):
        init_cfg = dict(type='Pretrained', checkpoint=path, prefix='backbone.')
        model = DFvT(arch, out_indices=(3,), init_cfg=init_cfg)
        try:
            model.init_weights()
        except CheckpointError as e:
            return f'{type(e).__name__}: {e}'
        assert model.stages[0].blocks[0].attn.qkv.weight.abs().sum() == 0  # the zeros loaded
        return 'works'

    return run


def demo(task, tool):
    def run(case, path):
        args = [path, CONFIGS[task], case.toys.checkpoint(task), '--device', 'cpu']
        if task != 'cls':
            args += ['--out-dir', case.tmp / 'out']
        return run_main(case.monkeypatch, ('demo', tool), args, scope=SCOPES[task])

    return run


def demo_checkpoint(task, tool):
    def run(case, path):
        (sample,) = glob(osp.join(case.toys.data[task], 'val', 'circle', '*.png'))[:1]
        args = [sample, CONFIGS[task], path, '--device', 'cpu']
        return run_main(case.monkeypatch, ('demo', tool), args, scope=SCOPES[task])

    return run


def inferencer(task):
    def run(case, path):
        H, W = cv2.imread(path, cv2.IMREAD_UNCHANGED).shape[:2]
        init_default_scope(SCOPES[task])
        if task == 'cls':
            scores = case.toys.cls_inferencer(path)[0]['pred_scores']
            assert scores.shape == (5,) and abs(scores.sum() - 1) < 1e-4
        elif task == 'det':
            pred = case.toys.det_inferencer(path, no_save_vis=True)['predictions'][0]
            boxes = np.asarray(pred['bboxes']).reshape(-1, 4)
            assert len(boxes) == len(pred['scores']) == len(pred['labels'])
            # Boxes on the original image, whatever size the model saw.
            assert (boxes >= 0).all() and (boxes[:, [0, 2]] <= W).all()
            assert (boxes[:, [1, 3]] <= H).all()
        else:
            pred = np.asarray(case.toys.seg_inferencer(path)['predictions'])
            assert pred.shape == (H, W) and 0 <= pred.min() and pred.max() < 6
        return 'works'

    return run


def build(task, cfg_part: str, options: dict):
    """A toy config's dataset (``cfg_part='train_dataloader'``) or model (``'model'``)."""
    cfg = Config.fromfile(CONFIGS[task])
    cfg.merge_from_dict(options)
    init_default_scope(SCOPES[task])
    from mmengine.registry import DATASETS, MODELS

    if cfg_part == 'model':
        torch.manual_seed(0)
        model = MODELS.build(cfg.model)
        model.init_weights()
        return model
    return DATASETS.build(cfg[cfg_part].dataset)


def classification_training_set(case, path):
    root = str(case.tmp / 'cls_train')
    write_classification(root, train_per_class=1, val_per_class=0)
    name = 'odd' + osp.splitext(path)[1]
    shutil.copy(path, osp.join(root, 'train', 'circle', name))
    dataset = build('cls', 'train_dataloader', {'train_dataloader.dataset.data_root': root})
    (index,) = [
        i for i in range(len(dataset)) if dataset.get_data_info(i)['img_path'].endswith(name)
    ]
    try:
        inputs = dataset[index]['inputs']
    except AssertionError as e:  # mmcv's LoadImageFromFile: one line naming the file
        return f'AssertionError: {e}'.replace(name, osp.basename(path))
    assert inputs.shape == (3, 64, 64) and inputs.dtype == torch.uint8
    return 'works'


def finite_train_step(model, batch) -> None:
    model.train()
    data = model.data_preprocessor(pseudo_collate(batch), training=True)
    loss, log_vars = model.parse_losses(model(**data, mode='loss'))
    loss.backward()
    assert torch.isfinite(loss), log_vars
    # What the logs show too (the loss terms, and the heads' accuracies).
    assert all(torch.isfinite(torch.as_tensor(v)) for v in log_vars.values()), log_vars
    for name, param in model.named_parameters():
        assert param.grad is None or torch.isfinite(param.grad).all(), name


def coco_options(root, filter_empty_gt=True):
    return {
        'train_dataloader.dataset.data_root': root + '/',
        'train_dataloader.dataset.filter_cfg.filter_empty_gt': filter_empty_gt,
        'model.backbone.init_cfg': None,
    }


def mask_rcnn_training_set(case, root):
    dataset = build('det', 'train_dataloader', coco_options(root))
    assert len(dataset.load_data_list()) == 2  # both images are in the annotation file
    kept = [osp.basename(dataset.get_data_info(i)['img_path']) for i in range(len(dataset))]
    return 'left out (filter_empty_gt)' if kept == ['000002.png'] else f'kept {kept}'


def mask_rcnn_train_step(case, root):
    options = coco_options(root, filter_empty_gt=False)
    dataset = build('det', 'train_dataloader', options)
    assert len(dataset) == 2
    sample = dataset[0]  # a batch of only the image without annotations: no positive at all
    assert sample['data_samples'].img_id == 1 and len(sample['data_samples'].gt_instances) == 0
    finite_train_step(build('det', 'model', options), [sample])
    return 'works'


def upernet_train_step(case, root):
    options = {'train_dataloader.dataset.data_root': root, 'model.backbone.init_cfg': None}
    dataset = build('seg', 'train_dataloader', options)
    sample = dataset[0]
    assert (sample['data_samples'].gt_sem_seg.data == 255).all()
    finite_train_step(build('seg', 'model', options), [sample, dataset[0]])
    return 'works'


ENTRIES = {
    'converter': converter,
    'tools/test.py': tools_test,
    'init_cfg Pretrained, DFvT-T': pretrained('tiny'),
    'init_cfg Pretrained, DFvT-S': pretrained('small'),
    'classify_image.py': demo('cls', 'classify_image.py'),
    'detect_image.py': demo('det', 'detect_image.py'),
    'segment_image.py': demo('seg', 'segment_image.py'),
    'classify_image.py, as its checkpoint': demo_checkpoint('cls', 'classify_image.py'),
    'classification inferencer': inferencer('cls'),
    'detection inferencer': inferencer('det'),
    'segmentation inferencer': inferencer('seg'),
    'classification training set': classification_training_set,
    'Mask R-CNN training set': mask_rcnn_training_set,
    'Mask R-CNN train step, no filter': mask_rcnn_train_step,
    'UperNet train step': upernet_train_step,
}


@pytest.mark.parametrize(
    'what, entry, expected', TABLE, ids=[f'{what} -> {entry}' for what, entry, _ in TABLE]
)
def test_bad_input(what, entry, expected, toys, tmp_path, monkeypatch):
    case = Case(toys, tmp_path, monkeypatch)
    outcome = ENTRIES[entry](case, INPUTS[what](case))
    assert '\n' not in outcome
    if expected in ('works', 'left out (filter_empty_gt)'):
        assert outcome == expected
    else:
        assert re.match(expected, outcome), outcome
    assert not (tmp_path / 'pwned').exists()  # the malicious file's code never ran


def test_a_cli_error_is_one_line_on_stderr(tmp_path):
    """What the table's 'error: ...' outcomes look like from a shell: exit status 1, the line on
    stderr, no traceback."""
    (tmp_path / 'truncated.pth').write_bytes(b'PK\x03\x04' + b'\x00' * 64)
    tool = osp.join(REPO_ROOT, 'tools', 'model_converters', 'dfvt_official_to_mm.py')
    result = subprocess.run(
        [sys.executable, tool, str(tmp_path / 'truncated.pth'), str(tmp_path / 'out.pth')],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert 'Traceback' not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert re.fullmatch(r'error: .*truncated.pth is truncated or corrupt \(.*\); .*', last), last
    assert not (tmp_path / 'out.pth').exists()


def test_every_row_has_an_input_and_an_entry():
    assert {what for what, _, _ in TABLE} == set(INPUTS)
    assert {entry for _, entry, _ in TABLE} == set(ENTRIES)
