"""Detect and segment objects in an image with a DFvT Mask R-CNN and save a picture of the result.

Uses mmdet's ``DetInferencer``: boxes, masks, class names and scores are drawn over the image and
saved as ``OUT_DIR/<image name>_detection.png``; the detections are also printed.

Example:
    python tools/demo/detect_image.py demo.jpg configs/mask_rcnn_dfvt_t_coco.py CKPT --out-dir out
"""

import argparse
import os.path as osp
import sys

import mmcv
import torch
from mmdet.apis import DetInferencer

from dfvt_mm.utils import CheckpointError


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('img', help='image file')
    parser.add_argument('config', help='Mask R-CNN config')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--out-dir', default='work_dirs/demo_det', help='where to save the picture')
    parser.add_argument('--score-thr', type=float, default=0.3, help='draw detections above this')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    args = parser.parse_args()

    try:
        # Read the image before building the model, so that a wrong path fails at once.
        if mmcv.imread(args.img) is None:
            sys.exit(f'error: {args.img} is not an image file (mmcv cannot decode it)')
        inferencer = DetInferencer(model=args.config, weights=args.checkpoint, device=args.device)
    except (CheckpointError, FileNotFoundError) as e:
        sys.exit(f'error: {e}')
    result = inferencer(args.img, pred_score_thr=args.score_thr, return_vis=True)
    pred = result['predictions'][0]
    classes = inferencer.model.dataset_meta['classes']
    kept = [
        (classes[label], score, bbox)
        for label, score, bbox in zip(pred['labels'], pred['scores'], pred['bboxes'])
        if score >= args.score_thr
    ]
    print(f'{args.img}: {len(kept)} detections with score >= {args.score_thr}')
    for name, score, bbox in kept:
        print(f'  {name:<12} {score:.3f}  box {[round(v, 1) for v in bbox]}')
    # Named after the task, so that the detection and segmentation demos can share an --out-dir.
    path = osp.join(args.out_dir, f'{osp.splitext(osp.basename(args.img))[0]}_detection.png')
    mmcv.imwrite(result['visualization'][0][..., ::-1], path)  # drawn in RGB
    print(f'picture saved to {path}')


if __name__ == '__main__':
    main()
