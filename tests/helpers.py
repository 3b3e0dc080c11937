"""What several test files need: the authors' state-dict layout and reference fixtures as tensors,
and BatchNorms worth folding."""

from __future__ import annotations

import json
import os.path as osp
from functools import cache

import torch
from torch import nn

from dfvt_mm.analysis import speed
from tests.conftest import DATA_DIR

# The authors' mini classification fixture (a custom arch, made with their code).
MINI_CLS = osp.join(DATA_DIR, 'official_cls_mini.pt')


@cache
def official_layout() -> dict:
    """The authors' keys and shapes, per arch ('tiny', 'small', 'base') and task
    ('classification', 'detection')."""
    with open(osp.join(DATA_DIR, 'official_state_dict_layout.json')) as f:
        return json.load(f)


def fake_official(arch: str, task: str = 'classification') -> dict[str, torch.Tensor]:
    """An authors' state dict of ``arch`` and ``task`` with their exact keys and shapes (zeros)."""
    shapes = official_layout()[arch][task]
    return {k: torch.zeros(shape) if shape else torch.tensor(0) for k, shape in shapes.items()}


def load_reference(path: str) -> tuple[dict, str | dict, int]:
    """An authors' reference fixture (``official_{cls,det}_{mini,tiny}.pt``: their state dict,
    an input and their outputs), its arch and number of classes."""
    ref = torch.load(path, weights_only=True)
    # The mini fixtures name their arch; the tiny ones are DFvT-T with 1000 classes.
    return ref, ref.get('arch', 'tiny'), ref.get('num_classes', 1000)


def perturb_batchnorms(model: nn.Module, seed: int = 0) -> nn.Module:
    """Random BatchNorm statistics and affine parameters, so that folding them is a real test
    (the package's own, with larger shifts)."""
    return speed.perturb_batchnorms(model, seed, shift=0.3)
