"""The three tasks, named once: the short keys every tool, metafile record and toy run uses
(``'cls'``, ``'det'``, ``'seg'``), with each one's OpenMMLab package (a config's
``default_scope``, a deploy config's ``codebase_config.type``), its metafile name
(``Results[].Task``), its plain name and mmdeploy's name (the prefix of configs/deploy/)."""

from __future__ import annotations

from typing import Any, NamedTuple


class Task(NamedTuple):
    """One task.

    Args:
        scope: The OpenMMLab package and registry scope (a config's ``default_scope``).
        metafile: Its name in metafiles (``Results[].Task``).
        name: Its plain name (tables, file names).
        deploy: mmdeploy's name of the deployed model's task (configs/deploy/ file names).
    """

    scope: str
    metafile: str
    name: str
    deploy: str


TASKS = {
    'cls': Task('mmpretrain', 'Image Classification', 'classification', 'classification'),
    'det': Task('mmdet', 'Object Detection', 'detection', 'instance-seg'),
    'seg': Task('mmseg', 'Semantic Segmentation', 'segmentation', 'segmentation'),
}
#: The tasks' scopes, the ``default_scope`` values the tools run.
SCOPES = tuple(task.scope for task in TASKS.values())


def task_of(cfg: Any) -> str:
    """The key in :data:`TASKS` of a config (anything with ``.get('default_scope')``).

    Raises:
        ValueError: Its ``default_scope`` is none of :data:`SCOPES`.
    """
    scope = cfg.get('default_scope')
    for key, task in TASKS.items():
        if task.scope == scope:
            return key
    name = getattr(cfg, 'filename', None) or 'the config'
    raise ValueError(
        f'{name}: default_scope is {scope!r}; the models here are built in one of '
        f'{list(SCOPES)} (inherit one of their bases)'
    )
