"""Segment an image with a DFvT UperNet and save the predicted mask drawn over it.

Uses mmseg's ``MMSegInferencer``; the picture is saved as ``OUT_DIR/<image name>_segmentation.png``.

Example:
    python tools/demo/segment_image.py demo.jpg configs/upernet_dfvt_t_ade20k.py CKPT --out-dir out
"""

import argparse
import os.path as osp
import sys

import mmcv
import numpy as np
import torch
from mmseg.apis import MMSegInferencer

from dfvt_mm.utils import CheckpointError


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('img', help='image file')
    parser.add_argument('config', help='UperNet config')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--out-dir', default='work_dirs/demo_seg', help='where to save the picture')
    parser.add_argument('--opacity', type=float, default=0.5, help='opacity of the drawn mask')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    args = parser.parse_args()

    try:
        # Read the image before building the model, so that a wrong path fails at once.
        if mmcv.imread(args.img) is None:
            sys.exit(f'error: {args.img} is not an image file (mmcv cannot decode it)')
        inferencer = MMSegInferencer(model=args.config, weights=args.checkpoint, device=args.device)
    except (CheckpointError, FileNotFoundError) as e:
        sys.exit(f'error: {e}')
    result = inferencer(args.img, opacity=args.opacity, return_vis=True)
    pred = np.asarray(result['predictions'])
    classes = inferencer.model.dataset_meta['classes']
    ids, counts = np.unique(pred, return_counts=True)
    print(f'{args.img}: predicted classes (share of pixels)')
    for i, n in sorted(zip(ids, counts), key=lambda x: -x[1]):
        print(f'  {classes[i]:<12} {n / pred.size:.3f}')
    # Named after the task, so that the detection and segmentation demos can share an --out-dir.
    path = osp.join(args.out_dir, f'{osp.splitext(osp.basename(args.img))[0]}_segmentation.png')
    # one image in, one picture out (mmseg unwraps the list for a single image); drawn in RGB
    mmcv.imwrite(result['visualization'][..., ::-1], path)
    print(f'picture saved to {path}')


if __name__ == '__main__':
    main()
