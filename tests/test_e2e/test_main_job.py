"""The README's main job (``make demo`` = ``python tools/toy_tasks.py``): the three toy tasks end to
end, one table, ``work_dirs/main_job/summary.json`` and pictures. The other end-to-end tests check
the same runs in more depth (tools/test.py, mim, distributed, demos)."""

import cv2
import pytest

from dfvt_mm.utils.logs import load_json_log

from .conftest import BARS


@pytest.fixture(scope='module')
def summary(main_job):
    return main_job[0]


def test_summary_has_every_task_above_its_bar(summary):
    assert set(summary['tasks']) == set(BARS)
    for task, bars in BARS.items():
        metrics = summary['tasks'][task]['metrics']
        assert set(metrics) == set(bars)
        for key, bar in bars.items():
            assert metrics[key] >= bar, (task, key, metrics[key])
            # Percentages for top-1 and mIoU, fractions for COCO's mAP.
            assert metrics[key] <= (1.0 if key.startswith('coco/') else 100.0)


def test_summary_metrics_are_the_runs_final_validation(summary, workspace):
    for info in summary['tasks'].values():
        val = load_json_log(str(workspace / info['work_dir']))['val']
        for key, value in info['metrics'].items():
            assert value == [line[key] for line in val if key in line][-1]
        assert (workspace / info['checkpoint']).is_file()


def test_wall_times_add_up(summary):
    times = [info['wall_time_s'] for info in summary['tasks'].values()]
    assert all(t > 0 for t in times)
    assert sum(times) <= summary['total_wall_time_s']
    assert summary['machine']['cpu_count'] >= 1


def test_table_and_progress_are_printed(main_job):
    summary, out = main_job
    # Not a terminal here: progress comes as lines, one per tenth of each run.
    assert 'classification: training: ' in out and 'detection: training: ' in out
    for task, info in summary['tasks'].items():
        assert task in out
        for value in info['metrics'].values():
            assert f'{value:.3g}' in out
    assert 'summary: work_dirs/main_job/summary.json' in out


@pytest.mark.parametrize('task', ['classification', 'detection', 'segmentation'])
def test_prediction_pictures(summary, workspace, task):
    picture = cv2.imread(str(workspace / summary['tasks'][task]['picture']))
    assert picture is not None
    # Three validation images side by side at 256 pixels high, drawn over (not blank).
    assert picture.shape[0] == 256 and picture.shape[1] > 3 * 256 * 0.9
    assert picture.std() > 10


def test_gradcam_and_curves_pictures(summary, workspace):
    extras = summary['extra_pictures']
    assert set(extras) == {'gradcam', 'cls_curves', 'det_curves', 'seg_curves'}
    for path in extras.values():
        picture = cv2.imread(str(workspace / path))
        assert picture is not None and min(picture.shape[:2]) > 100 and picture.std() > 5
