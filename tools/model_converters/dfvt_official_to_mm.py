"""Convert the authors' DFvT checkpoints to this project's (mmengine) format.

Classification checkpoints (``DFvT_T_7295.pth`` and friends, weights under ``model``) become
mmpretrain ``ImageClassifier`` checkpoints (``backbone.*`` + ``head.fc.*``); the detection
branch's backbones become ``backbone.*`` checkpoints. The layout is detected from the keys.
The source is loaded with ``weights_only=True`` (see ``dfvt_mm.utils.checkpoint``). A file that
cannot be converted ends the tool with one ``error: ...`` line saying why and what to do.

Example:
    python tools/model_converters/dfvt_official_to_mm.py DFvT_T_7295.pth checkpoints/dfvt_t_in1k.pth
"""

import argparse
import os
import os.path as osp
import sys

import torch
from mmengine.runner.checkpoint import _load_checkpoint

from dfvt_mm.models import convert_official_checkpoint, infer_arch
from dfvt_mm.utils.checkpoint import CheckpointError, unwrap_state_dict


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src', help="the authors' checkpoint (raw state dict or one under 'model')")
    parser.add_argument('dst', help='where to save the converted mmengine checkpoint')
    return parser.parse_args()


def convert(src: str, dst: str) -> str:
    """Convert ``src`` into ``dst`` and return a one-line summary."""
    state_dict = unwrap_state_dict(_load_checkpoint(src, map_location='cpu'))
    try:
        converted, task = convert_official_checkpoint(state_dict)
    except CheckpointError as e:
        raise type(e)(f'{src}: {e}') from None
    arch = infer_arch(state_dict)
    if osp.dirname(dst):
        os.makedirs(osp.dirname(dst), exist_ok=True)
    torch.save(
        dict(state_dict=converted, meta=dict(source=osp.basename(src), task=task, arch=arch)), dst
    )
    return f'{task} checkpoint, arch {arch}: {len(converted)} tensors written to {dst}'


def main() -> None:
    args = parse_args()
    try:
        print(convert(args.src, args.dst))
    except (CheckpointError, FileNotFoundError) as e:
        sys.exit(f'error: {e}')


if __name__ == '__main__':
    main()
