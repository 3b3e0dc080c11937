"""Classify an image with a DFvT classifier and print the top-k classes with their scores.

Uses mmpretrain's ``ImageClassificationInferencer``.

Example:
    python tools/demo/classify_image.py demo.png configs/dfvt_t_in1k.py checkpoints/dfvt_t_in1k.pth
"""

import argparse

import torch
from mmpretrain.apis import ImageClassificationInferencer

import dfvt_mm  # noqa: F401


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('img', help='image file')
    parser.add_argument('config', help='classification config')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--topk', type=int, default=5)
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    args = parser.parse_args()

    inferencer = ImageClassificationInferencer(
        args.config, pretrained=args.checkpoint, device=args.device
    )
    result = inferencer(args.img)[0]
    scores = torch.as_tensor(result['pred_scores'])
    classes = inferencer.classes or [str(i) for i in range(len(scores))]
    top = scores.topk(min(args.topk, len(scores)))
    print(f'{args.img}: top-{len(top.indices)}')
    for rank, (score, index) in enumerate(zip(top.values.tolist(), top.indices.tolist()), 1):
        print(f'  {rank}. {classes[index]:<20} {score:.4f}')


if __name__ == '__main__':
    main()
