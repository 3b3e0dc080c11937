"""Write the built-in instance-segmentation dataset in COCO's layout.

Each image holds 0-4 shapes (circle, square, triangle, star, cross) with polygon masks; shapes may
overlap (a later shape hides part of an earlier one, and its mask and box are clipped to what stays
visible), and some images have no object at all.

    OUT/train2017/*.png  OUT/val2017/*.png
    OUT/annotations/instances_train2017.json  OUT/annotations/instances_val2017.json

Example:
    python tools/data/make_toy_coco.py data/toy_coco
"""

import argparse
import json
import math
import os
import os.path as osp

import cv2
import numpy as np

from dfvt_mm.datasets import SHAPES, draw_polygon, random_background, random_color, shape_polygon


def mask_to_polygons(mask: np.ndarray) -> list[list[float]]:
    contours, _ = cv2.findContours(
        mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE
    )
    return [c.reshape(-1).astype(float).tolist() for c in contours if len(c) >= 3]


def make_image(
    rng: np.random.Generator, size: tuple[int, int], max_objects: int, empty_prob: float
):
    H, W = size
    img = random_background(rng, H, W)
    n = 0 if rng.random() < empty_prob else int(rng.integers(1, max_objects + 1))
    instances = []  # (label, visible mask)
    for _ in range(n):
        label = int(rng.integers(len(SHAPES)))
        radius = rng.uniform(0.1, 0.22) * min(H, W)
        center = rng.uniform([radius, radius], [W - radius, H - radius])
        polygon = shape_polygon(SHAPES[label], tuple(center), radius, rng.uniform(0, 2 * math.pi))
        local = img[int(center[1]), int(center[0])].astype(int)
        mask = draw_polygon(img, polygon, random_color(rng, avoid=local))
        for other in instances:  # occlusion: the new shape hides what it covers
            other[1][mask] = False
        instances.append([label, mask])
    return img, [(label, m) for label, m in instances if m.sum() >= 30]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('out', help='dataset root to write (e.g. data/toy_coco)')
    parser.add_argument('--train', type=int, default=120, help='number of training images')
    parser.add_argument('--val', type=int, default=40, help='number of validation images')
    parser.add_argument('--size', type=int, nargs=2, default=(128, 176), metavar=('H', 'W'))
    parser.add_argument('--max-objects', type=int, default=4)
    parser.add_argument('--empty-prob', type=float, default=0.08)
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    categories = [dict(id=i + 1, name=name, supercategory='shape') for i, name in enumerate(SHAPES)]
    os.makedirs(osp.join(args.out, 'annotations'), exist_ok=True)
    for split, count in (('train2017', args.train), ('val2017', args.val)):
        os.makedirs(osp.join(args.out, split), exist_ok=True)
        images, annotations = [], []
        for image_id in range(1, count + 1):
            img, instances = make_image(rng, tuple(args.size), args.max_objects, args.empty_prob)
            file_name = f'{image_id:06d}.png'
            cv2.imwrite(osp.join(args.out, split, file_name), img)
            images.append(
                dict(id=image_id, file_name=file_name, height=args.size[0], width=args.size[1])
            )
            for label, mask in instances:
                ys, xs = np.nonzero(mask)
                x0, y0 = float(xs.min()), float(ys.min())
                annotations.append(
                    dict(
                        id=len(annotations) + 1,
                        image_id=image_id,
                        category_id=label + 1,
                        segmentation=mask_to_polygons(mask),
                        area=float(mask.sum()),
                        bbox=[x0, y0, float(xs.max()) + 1 - x0, float(ys.max()) + 1 - y0],
                        iscrowd=0,
                    )
                )
        with open(osp.join(args.out, 'annotations', f'instances_{split}.json'), 'w') as f:
            json.dump(dict(images=images, annotations=annotations, categories=categories), f)
        print(f'{split}: {count} images, {len(annotations)} instances')


if __name__ == '__main__':
    main()
