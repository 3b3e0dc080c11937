"""Write the built-in classification dataset in ImageNet's folder layout.

One shape per image (circle, square, triangle, star, cross), random colour, size, position and
rotation over a random background: colour says nothing about the class, shape does.

    OUT/train/<class>/<class>_00000.png ...
    OUT/val/<class>/<class>_00000.png ...

Example:
    python tools/data/make_toy_imagenet.py data/toy_imagenet
"""

import argparse
import math
import os
import os.path as osp

import cv2
import numpy as np

from dfvt_mm.datasets import SHAPES, draw_polygon, random_background, random_color, shape_polygon


def make_image(rng: np.random.Generator, shape: str, size: int) -> np.ndarray:
    img = random_background(rng, size, size)
    radius = rng.uniform(0.2, 0.4) * size
    center = rng.uniform(radius, size - radius, 2)
    polygon = shape_polygon(shape, tuple(center), radius, rng.uniform(0, 2 * math.pi))
    local = img[int(center[1]), int(center[0])].astype(int)
    draw_polygon(img, polygon, random_color(rng, avoid=local))
    return img


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('out', help='dataset root to write (e.g. data/toy_imagenet)')
    parser.add_argument('--train-per-class', type=int, default=300)
    parser.add_argument('--val-per-class', type=int, default=40)
    parser.add_argument('--size', type=int, default=64, help='image side in pixels')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    for split, per_class in (('train', args.train_per_class), ('val', args.val_per_class)):
        for shape in SHAPES:
            folder = osp.join(args.out, split, shape)
            os.makedirs(folder, exist_ok=True)
            for i in range(per_class):
                cv2.imwrite(
                    osp.join(folder, f'{shape}_{i:05d}.png'), make_image(rng, shape, args.size)
                )
    print(
        f'wrote {len(SHAPES)} classes x ({args.train_per_class} train + {args.val_per_class} val) '
        f'images of {args.size}x{args.size} to {args.out}'
    )


if __name__ == '__main__':
    main()
