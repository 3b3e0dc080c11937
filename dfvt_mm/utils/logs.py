"""Finding and reading mmengine's json logs (for the main job and its tests).

mmengine's ``LoggerHook`` writes one json object per logged step to
``<work_dir>/<timestamp>/vis_data/<timestamp>.json``: training lines carry ``iter`` (and ``epoch``),
``lr``, the losses and ``time``; validation lines carry the metrics (``accuracy/top1``,
``coco/bbox_mAP``, ``mIoU`` ...) and ``step``.
"""

from __future__ import annotations

import glob
import os.path as osp


def find_json_log(path: str) -> str:
    """The json log ``path`` names: the file itself, or the newest training log in a work dir
    (``*/vis_data/<timestamp>.json``) or in a timestamp dir (``vis_data/<timestamp>.json``).

    ``tools/test.py`` runs write their metrics beside ``vis_data`` instead, so they are not
    picked. ``scalars.json`` holds the same lines and is skipped.
    """
    if osp.isfile(path):
        return path
    if not osp.isdir(path):
        raise FileNotFoundError(f'no json log or work dir at {path}')
    found = [
        p
        for pattern in ('*/vis_data/*.json', 'vis_data/*.json')
        for p in glob.glob(osp.join(path, pattern))
        if osp.basename(p) != 'scalars.json'
    ]
    if not found:
        raise FileNotFoundError(f'no json log (*/vis_data/<timestamp>.json) under {path}')
    # Timestamp names sort in time order; mtime breaks ties between work dirs.
    return max(found, key=lambda p: (osp.basename(p), osp.getmtime(p)))


def load_json_log(path: str) -> dict[str, list[dict]]:
    """The training and validation lines of a json log (or of a work dir's newest one), read by
    mmpretrain's ``load_json_log`` (what its ``analyze_logs`` tool reads them with).

    Returns:
        ``dict(train=[...], val=[...])``, each a list of the lines' dicts in file order.
    """
    from mmpretrain.utils import load_json_log as load

    return load(find_json_log(path))


def last_metric(path: str, key: str) -> float:
    """The last validation value of ``key`` in a json log or a work dir's newest run (the
    final evaluation of a training run).

    Raises:
        KeyError: No validation line has ``key``; the message lists the keys they have.
    """
    values = [entry[key] for entry in load_json_log(path)['val'] if key in entry]
    if not values:
        keys = sorted({k for entry in load_json_log(path)['val'] for k in entry})
        raise KeyError(f'no validation {key!r} in {find_json_log(path)}; keys: {keys}')
    return float(values[-1])
