"""Where the repository's files are, in a checkout and in an installed package.

``configs/``, ``tools/`` and ``model-index.yml`` sit at the root of a checkout; a wheel ships them
in ``dfvt_mm/.mim`` (setup.py, mim's layout; an editable install links them there). Every config,
metafile and tool path of the package is resolved here.
"""

from __future__ import annotations

import os.path as osp

from mmengine.config.utils import MODULE2PACKAGE
from mmengine.utils import get_installed_path

_PACKAGE_DIR = osp.dirname(osp.dirname(osp.abspath(__file__)))


def root() -> str:
    """The folder holding ``configs/``, ``tools/`` and ``model-index.yml``: the package's
    ``.mim`` folder when it has them (an installed package; an editable install's links lead
    back to the checkout), else the checkout's root."""
    packaged = osp.join(_PACKAGE_DIR, '.mim', 'configs')
    if osp.isdir(packaged):
        return osp.dirname(osp.realpath(packaged))
    return osp.dirname(_PACKAGE_DIR)


def resolve(path: str) -> str:
    """The file ``path`` names: ``'pkg::rel/path.py'`` in that OpenMMLab package's
    ``.mim/configs`` (mmengine's spelling of upstream configs); an absolute path, or one that
    exists from the current directory, as it is; anything else relative to :func:`root`.

    Raises:
        FileNotFoundError: There is no such file (the message says where it looked).
    """
    if '::' in path:
        scope, rel = path.split('::', 1)
        if scope not in MODULE2PACKAGE:
            raise FileNotFoundError(
                f'{path}: unknown package scope {scope!r}; use one of {sorted(MODULE2PACKAGE)}'
            )
        found = osp.join(get_installed_path(MODULE2PACKAGE[scope]), '.mim', 'configs', rel)
    elif osp.isabs(path) or osp.isfile(path):
        found = path
    else:
        found = osp.join(root(), path)
    if not osp.isfile(found):
        raise FileNotFoundError(f'{path} not found (looked at {found})')
    return found
