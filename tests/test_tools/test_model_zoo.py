"""The metafiles (model-index.yml, configs/metafiles/*.yml), their one loader, the README's
model-zoo table (tools/analysis/model_zoo.py) and the paper's numbers in them."""

import os
import os.path as osp
import re
import subprocess
import sys

import pytest

from dfvt_mm.analysis.model_zoo import check_measured, zoo_markdown
from dfvt_mm.analysis.tables import readme_block
from dfvt_mm.utils.metafile import find_model, load_models, model_index_path, peers_path
from dfvt_mm.utils.paths import resolve
from tests.conftest import REPO_ROOT

CONFIGS = sorted(
    f'configs/{name}' for name in os.listdir(osp.join(REPO_ROOT, 'configs')) if name.endswith('.py')
)


@pytest.fixture(scope='module')
def ours():
    return load_models()


@pytest.fixture(scope='module')
def peers():
    return load_models(path=peers_path())


def test_one_entry_per_config(ours):
    assert sorted(r.config for r in ours) == CONFIGS and len(CONFIGS) == 9
    for r in ours:
        assert r.name == osp.splitext(osp.basename(r.config))[0]
        assert osp.isfile(r.config_path)
    assert [r.task for r in ours] == ['cls'] * 3 + ['det'] * 3 + ['seg'] * 3
    assert [r.key for r in load_models('seg')] == ['dfvt_t', 'dfvt_s', 'dfvt_b']


def test_weights_and_conversion(ours):
    for r in ours:
        size = r.backbone[-1]
        release = {'T': 'DFvT_T_7295', 'S': 'DFvT_S_7829', 'B': 'DFvT_B_8198'}[size]
        url = f'https://github.com/ginobilinie/DFvT/releases/download/models/{release}.pth'
        # ImageNet models are the release; detection and segmentation start from it.
        assert (r.weights if r.task == 'cls' else r.pretrained_backbone) == url
        dst = f'checkpoints/dfvt_{size.lower()}_in1k.pth'
        converter = 'python tools/model_converters/dfvt_official_to_mm.py'
        assert r.convert == f'{converter} {release}.pth {dst}'
        assert osp.isfile(osp.join(REPO_ROOT, converter.split()[1]))


def test_peers_are_upstream_configs(peers):
    assert {(r.task, r.key) for r in peers} == {
        *(('cls', k) for k in ('mobilenetv2', 'resnet_18', 'resnet_50', 'resnet_101')),
        ('cls', 'swin_t'),
        ('cls', 'deit_s'),
        *((t, k) for t in ('det', 'seg') for k in ('resnet_50', 'swin_t')),
    }
    for r in peers:
        assert '::' in r.config and osp.isfile(resolve(r.config))
    assert find_model(peers, 'ResNet50').backbone == 'ResNet-50'
    with pytest.raises(KeyError, match=r"no model 'resnet_99'; there are \['mobilenetv2'"):
        find_model(peers, 'resnet_99')


def test_model_index_imports_the_three_metafiles_not_the_peers():
    with open(model_index_path()) as f:
        text = f.read()
    assert re.findall(r'configs/metafiles/\w+\.yml', text) == [
        'configs/metafiles/classification.yml',
        'configs/metafiles/detection.yml',
        'configs/metafiles/segmentation.yml',
    ]


def test_mim_reads_the_metafiles():
    """`mim search` turns the index into a table (its convert2df): one row per model, the
    paper's metrics as columns, no error on the custom fields."""
    pytest.importorskip('mim')
    from mim.commands.search import convert2df
    from modelindex import load

    table = convert2df(load(model_index_path()))
    assert sorted(table.index) == sorted(osp.basename(c)[:-3] for c in CONFIGS)
    assert table.loc['dfvt_s_in1k', 'imagenet-1k/top_1_accuracy'] == 78.3
    assert table.loc['mask_rcnn_dfvt_b_coco', 'coco/mask_ap'] == 39.2
    assert table.loc['upernet_dfvt_t_ade20k', 'ade20k/miou'] == 36.1
    assert len(convert2df(load(peers_path()))) == 10


def test_loader_errors(tmp_path):
    with pytest.raises(ValueError, match=r"unknown task 'detection'; choose from \['cls'"):
        load_models('detection')
    with pytest.raises(FileNotFoundError, match='no metafile at'):
        load_models(path=str(tmp_path / 'none.yml'))
    bad = tmp_path / 'bad.yml'
    bad.write_text('Models:\n  - Name: x\n    In Collection: Nowhere\n    Results: []\n')
    with pytest.raises(ValueError, match='Invalid collection name `Nowhere`'):
        load_models(path=str(bad))


def test_other_metafiles_keep_their_fields(tmp_path):
    """A metafile of variants (as the ablations'): no config or backbone, custom fields."""
    path = tmp_path / 'metafile.yml'
    path.write_text(
        'Collections:\n  - Name: Ablations\nModels:\n'
        '  - Name: dfvt_s_cm_only\n    In Collection: Ablations\n    Paper Table: Table 3\n'
        '    Metadata:\n      FLOPs: 700000000\n      Spatial Module: false\n'
        '    Results:\n      - Task: Image Classification\n        Dataset: ImageNet-1k\n'
        '        Metrics:\n          Top 1 Accuracy: 77.0\n'
    )
    (record,) = load_models('cls', str(path))
    assert (record.name, record.backbone, record.config, record.config_path) == (
        'dfvt_s_cm_only',
        'dfvt_s_cm_only',
        None,
        None,
    )
    assert record.flops == 7e8 and record.metrics == {'Top 1 Accuracy': 77.0}
    assert record.metadata['Spatial Module'] is False
    assert record.extra == {'Paper Table': 'Table 3'}


def test_readme_table_is_the_tools_output(ours):
    with open(osp.join(REPO_ROOT, 'README.md')) as f:
        readme = f.read()
    assert readme_block(readme, 'model-zoo') == zoo_markdown(ours)
    out = subprocess.run(
        [sys.executable, 'tools/analysis/model_zoo.py', '--markdown'],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip() == zoo_markdown(ours)


def test_measured_counts_of_the_classifiers(ours):
    """The counts recorded for this code, recounted (detection and segmentation take minutes
    each at the paper's sizes: `python tools/analysis/model_zoo.py --check`)."""
    rows = check_measured([r for r in ours if r.task == 'cls'])
    assert [(r['params'], r['flops']) for r in rows] == [
        (r['recorded_params'], r['recorded_flops']) for r in rows
    ]
    assert all(r['ok'] for r in rows)


# The paper's text (main text and supplementary), as extracted: shared/paper beside the checkout
# or $DFVT_PAPER_DIR. Its rows are compared with the metafiles, so a typo in either shows.
PAPER_NAMES = {
    'MobileNetV2': 'MobileNetV2',
    'ResNet-18': 'ResNet18',
    'ResNet-50': 'ResNet50',
    'ResNet-101': 'ResNet101',
    'DeiT-S': 'DeiT-Small',
    'Swin-T': 'Swin-Tiny',
}


@pytest.fixture(scope='module')
def paper_rows():
    folder = os.environ.get('DFVT_PAPER_DIR', osp.join(osp.dirname(REPO_ROOT), 'shared', 'paper'))
    files = sorted(f for f in os.listdir(folder) if f.endswith('.txt')) if osp.isdir(folder) else []
    if len(files) != 2:
        pytest.skip(f"the paper's text is not at {folder} (set DFVT_PAPER_DIR)")
    rows = {}
    for part, name in zip(('main', 'supplementary'), files):
        with open(osp.join(folder, name)) as f:
            for line in f:
                cells = [_plain(c) for c in line.strip().split('\t') if c.strip()]
                if len(cells) >= 6:
                    # Main text: [group,] model, image size, numbers; supplementary: method,
                    # backbone, numbers.
                    if part == 'main':
                        first = next((i for i, c in enumerate(cells) if _number(c)), 0)
                        if first:
                            rows[('cls', cells[first - 1])] = cells[first:]
                    elif cells[0] in ('Mask RCNN', 'UperNet'):
                        task = 'det' if cells[0] == 'Mask RCNN' else 'seg'
                        rows[(task, cells[1])] = cells[2:]
    return rows


def _plain(cell):
    """A table cell without LaTeX markup and reference numbers: 'ResNet50^{\\dagger}' ->
    'ResNet50', 'Swin-Tiny[28]' -> 'Swin-Tiny'."""
    cell = re.sub(r'\\(mathrm|text|operatorname)\{([^}]*)\}', r'\2', cell)
    cell = re.sub(r'\^\{?\\dagger\}?|\$|\[\d+\]|\s+$', '', cell)
    return cell.strip()


def _number(cell):
    return re.fullmatch(r'[\d.]+', cell) is not None


def test_paper_numbers(ours, peers, paper_rows):
    for r in ours + peers:
        name = PAPER_NAMES.get(r.backbone, r.backbone)
        row = paper_rows[(r.task, name)]
        if r.task == 'cls':
            if name == 'DFvT-B':
                # Damaged in the text ("994 37.3 25 5 5 062.8 82.0"): the parts that survive.
                assert row == ['994', '37.3', '25', '5 5', '062.8', '82.0']
                assert (r.params, r.flops, r.memory.value) == (37.3e6, 2.5e9, 5.5)
                assert r.throughput.value == 1062.8 and '062.8' in r.throughput.note
                assert r.metrics == {'Top 1 Accuracy': 82.0}
                continue
            size, params, flops, memory, fps, top1 = map(float, row[:6])
            assert size == 224 and r.metrics == {'Top 1 Accuracy': top1}
        elif r.task == 'det':
            box, mask, params, flops, fps, memory = map(float, row[:6])
            assert r.metrics == {'box AP': box, 'mask AP': mask}
        else:
            miou, params, flops, fps, memory = map(float, row[:5])
            assert r.metrics == {'mIoU': miou}
        assert (r.params, r.flops) == (round(params * 1e6), round(flops * 1e9))
        assert (r.throughput.value, r.memory.value) == (fps, memory)
