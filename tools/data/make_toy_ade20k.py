"""Write the built-in semantic-segmentation dataset in ADE20K's layout.

Each image holds 1-5 shapes (circle, square, triangle, star, cross) over a random background;
the annotation PNG labels every pixel: 0 = unlabeled (ignored, as ADE20K's ``reduce_zero_label``
expects: a thin band around every shape and a few blobs), 1 = background, 2-6 = the shapes.

    OUT/images/training/*.jpg       OUT/annotations/training/*.png
    OUT/images/validation/*.jpg     OUT/annotations/validation/*.png

Example:
    python tools/data/make_toy_ade20k.py data/toy_ade20k
"""

import argparse
import math
import os
import os.path as osp

import cv2
import numpy as np

from dfvt_mm.datasets import SHAPES, draw_polygon, random_background, random_color, shape_polygon

CLASSES = ('background', *SHAPES)  # label 1 + index after reduce_zero_label


def make_sample(rng: np.random.Generator, size: tuple[int, int]):
    H, W = size
    img = random_background(rng, H, W)
    label = np.ones((H, W), np.uint8)  # 1 = background
    for _ in range(int(rng.integers(1, 6))):
        cls = int(rng.integers(len(SHAPES)))
        radius = rng.uniform(0.1, 0.25) * min(H, W)
        center = rng.uniform([radius, radius], [W - radius, H - radius])
        polygon = shape_polygon(SHAPES[cls], tuple(center), radius, rng.uniform(0, 2 * math.pi))
        local = img[int(center[1]), int(center[0])].astype(int)
        mask = draw_polygon(img, polygon, random_color(rng, avoid=local))
        label[mask] = cls + 2
    # Unlabeled pixels: a band along every region boundary, and a few blobs.
    edges = cv2.morphologyEx(label, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)) > 0
    label[edges] = 0
    for _ in range(int(rng.integers(0, 3))):
        c = tuple(int(v) for v in rng.integers(0, [W, H]))
        cv2.circle(label, c, int(rng.integers(3, 8)), 0, -1)
    return img, label


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('out', help='dataset root to write (e.g. data/toy_ade20k)')
    parser.add_argument('--train', type=int, default=200, help='number of training images')
    parser.add_argument('--val', type=int, default=40, help='number of validation images')
    parser.add_argument('--size', type=int, nargs=2, default=(96, 96), metavar=('H', 'W'))
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    for split, count in (('training', args.train), ('validation', args.val)):
        for sub in ('images', 'annotations'):
            os.makedirs(osp.join(args.out, sub, split), exist_ok=True)
        for i in range(count):
            img, label = make_sample(rng, tuple(args.size))
            name = f'toy_{split}_{i:05d}'
            cv2.imwrite(
                osp.join(args.out, 'images', split, name + '.jpg'),
                img,
                [cv2.IMWRITE_JPEG_QUALITY, 95],
            )
            cv2.imwrite(osp.join(args.out, 'annotations', split, name + '.png'), label)
        print(f'{split}: {count} images')


if __name__ == '__main__':
    main()
