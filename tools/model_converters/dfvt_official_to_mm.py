"""Convert the authors' DFvT checkpoints to this project's (mmengine) format.

Classification checkpoints (``DFvT_T_7295.pth`` and friends, weights under ``model``) become
mmpretrain ``ImageClassifier`` checkpoints (``backbone.*`` + ``head.fc.*``); the detection
branch's backbones become ``backbone.*`` checkpoints. The layout is detected from the keys.

Example:
    python tools/model_converters/dfvt_official_to_mm.py DFvT_T_7295.pth checkpoints/dfvt_t_in1k.pth
"""

import argparse
import os
import os.path as osp

import torch
from mmengine.runner.checkpoint import _load_checkpoint

from dfvt_mm.models.backbones.dfvt import convert_official_checkpoint, infer_arch


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src', help="the authors' checkpoint (raw state dict or one under 'model')")
    parser.add_argument('dst', help='where to save the converted mmengine checkpoint')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    ckpt = _load_checkpoint(args.src, map_location='cpu')
    state_dict = ckpt
    for key in ('model', 'state_dict'):
        if isinstance(ckpt, dict) and key in ckpt and isinstance(ckpt[key], dict):
            state_dict = ckpt[key]
            break
    converted, task = convert_official_checkpoint(state_dict)
    arch = infer_arch(state_dict)
    if osp.dirname(args.dst):
        os.makedirs(osp.dirname(args.dst), exist_ok=True)
    torch.save(
        dict(state_dict=converted, meta=dict(source=osp.basename(args.src), task=task, arch=arch)),
        args.dst,
    )
    print(f'{task} checkpoint, arch {arch}: {len(converted)} tensors written to {args.dst}')


if __name__ == '__main__':
    main()
