"""Classify an image with a DFvT classifier and print the top-k classes with their scores.

Uses mmpretrain's ``ImageClassificationInferencer``.

Example:
    python tools/demo/classify_image.py demo.png configs/dfvt_t_in1k.py checkpoints/dfvt_t_in1k.pth
"""

import argparse
import sys

import mmcv
import torch
from mmpretrain.apis import ImageClassificationInferencer

from dfvt_mm.utils import CheckpointError


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('img', help='image file')
    parser.add_argument('config', help='classification config')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--topk', type=int, default=5)
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    args = parser.parse_args()

    try:
        # Read the image before building the model, so that a wrong path fails at once.
        if mmcv.imread(args.img) is None:
            sys.exit(f'error: {args.img} is not an image file (mmcv cannot decode it)')
        inferencer = ImageClassificationInferencer(
            args.config, pretrained=args.checkpoint, device=args.device
        )
    except (CheckpointError, FileNotFoundError) as e:
        sys.exit(f'error: {e}')
    result = inferencer(args.img)[0]
    scores = torch.as_tensor(result['pred_scores'])
    classes = inferencer.classes or [str(i) for i in range(len(scores))]
    top = scores.topk(min(args.topk, len(scores)))
    print(f'{args.img}: top-{len(top.indices)}')
    for rank, (score, index) in enumerate(zip(top.values.tolist(), top.indices.tolist()), 1):
        print(f'  {rank}. {classes[index]:<20} {score:.4f}')


if __name__ == '__main__':
    main()
