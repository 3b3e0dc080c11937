"""Writers of the three built-in datasets, in the layouts of ImageNet, COCO and ADE20K.

Every class is a shape (:data:`~dfvt_mm.toy.shapes.SHAPES`) in a random colour over a random
textured background, so only shape tells classes apart. The writers are seeded: the same arguments
write the same files. ``tools/data/make_toy_*.py`` are their command lines; the main job
(``tools/toy_tasks.py``) calls them directly.
"""

from __future__ import annotations

import json
import math
import os
import os.path as osp

import cv2
import numpy as np

from .shapes import (
    SHAPES,
    draw_polygon,
    random_background,
    random_color,
    scatter_shapes,
    shape_polygon,
)

#: ADE20K-style labels: 0 = unlabeled (ignored through ``reduce_zero_label``), 1 = background,
#: 2-6 = the shapes; after ``reduce_zero_label`` the classes below are 0-5.
SEG_CLASSES = ('background', *SHAPES)


def write_classification(
    out: str,
    train_per_class: int = 300,
    val_per_class: int = 40,
    size: int = 64,
    radius: tuple[float, float] = (0.2, 0.4),
    seed: int = 0,
) -> dict:
    """One shape per image in ImageNet's folder layout: ``OUT/{train,val}/<class>/*.png``.

    Args:
        out: Dataset root to write.
        train_per_class: Training images per class.
        val_per_class: Validation images per class.
        size: Image side in pixels.
        radius: Range of the shape's radius, as fractions of the side.
        seed: Seed of the generator.

    Returns:
        The number of images written per split.
    """
    rng = np.random.default_rng(seed)
    counts = {}
    for split, per_class in (('train', train_per_class), ('val', val_per_class)):
        for shape in SHAPES:
            folder = osp.join(out, split, shape)
            os.makedirs(folder, exist_ok=True)
            for i in range(per_class):
                img = random_background(rng, size, size)
                r = rng.uniform(*radius) * size
                center = rng.uniform(r, size - r, 2)
                polygon = shape_polygon(shape, tuple(center), r, rng.uniform(0, 2 * math.pi))
                local = img[int(center[1]), int(center[0])].astype(int)
                draw_polygon(img, polygon, random_color(rng, avoid=local))
                cv2.imwrite(osp.join(folder, f'{shape}_{i:05d}.png'), img)
        counts[split] = per_class * len(SHAPES)
    return counts


def _mask_to_polygons(mask: np.ndarray) -> list[list[float]]:
    contours, _ = cv2.findContours(
        mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE
    )
    return [c.reshape(-1).astype(float).tolist() for c in contours if len(c) >= 3]


def write_coco(
    out: str,
    train: int = 160,
    val: int = 80,
    size: tuple[int, int] = (128, 176),
    max_objects: int = 3,
    empty_prob: float = 0.08,
    radius: tuple[float, float] = (0.15, 0.3),
    max_overlap: float = 0.2,
    min_area: int = 30,
    seed: int = 0,
) -> dict:
    """Instances with polygon masks in COCO's layout: ``OUT/{train2017,val2017}/*.png`` and
    ``OUT/annotations/instances_{train2017,val2017}.json``.

    Each image holds 0 to ``max_objects`` shapes; a later shape hides what it covers of an earlier
    one (its mask and box are clipped to what stays visible), up to ``max_overlap`` of either.

    Args:
        out: Dataset root to write.
        train: Training images.
        val: Validation images.
        size: Image size (height, width).
        max_objects: Most shapes per image.
        empty_prob: Share of images without any shape.
        radius: Range of the shapes' radius, as fractions of the short side.
        max_overlap: Largest fraction of a shape that another may hide (1: any occlusion).
        min_area: Shapes with fewer visible pixels are not annotated.
        seed: Seed of the generator.

    Returns:
        The number of images and of instances written per split.
    """
    rng = np.random.default_rng(seed)
    categories = [dict(id=i + 1, name=name, supercategory='shape') for i, name in enumerate(SHAPES)]
    os.makedirs(osp.join(out, 'annotations'), exist_ok=True)
    counts = {}
    for split, count in (('train2017', train), ('val2017', val)):
        os.makedirs(osp.join(out, split), exist_ok=True)
        images, annotations = [], []
        for image_id in range(1, count + 1):
            img = random_background(rng, *size)
            n = 0 if rng.random() < empty_prob else int(rng.integers(1, max_objects + 1))
            instances = scatter_shapes(rng, img, n, radius, max_overlap)
            file_name = f'{image_id:06d}.png'
            cv2.imwrite(osp.join(out, split, file_name), img)
            images.append(dict(id=image_id, file_name=file_name, height=size[0], width=size[1]))
            for label, mask in instances:
                if mask.sum() < min_area:
                    continue
                ys, xs = np.nonzero(mask)
                x0, y0 = float(xs.min()), float(ys.min())
                annotations.append(
                    dict(
                        id=len(annotations) + 1,
                        image_id=image_id,
                        category_id=label + 1,
                        segmentation=_mask_to_polygons(mask),
                        area=float(mask.sum()),
                        bbox=[x0, y0, float(xs.max()) + 1 - x0, float(ys.max()) + 1 - y0],
                        iscrowd=0,
                    )
                )
        with open(osp.join(out, 'annotations', f'instances_{split}.json'), 'w') as f:
            json.dump(dict(images=images, annotations=annotations, categories=categories), f)
        counts[split] = dict(images=count, instances=len(annotations))
    return counts


def write_ade20k(
    out: str,
    train: int = 200,
    val: int = 80,
    size: tuple[int, int] = (96, 96),
    max_objects: int = 4,
    radius: tuple[float, float] = (0.15, 0.3),
    max_overlap: float = 0.2,
    seed: int = 0,
) -> dict:
    """Semantic maps in ADE20K's layout: ``OUT/images/{training,validation}/*.jpg`` and
    ``OUT/annotations/{training,validation}/*.png``.

    Each image holds 1 to ``max_objects`` shapes. Label 0 (unlabeled, ignored as ADE20K's
    ``reduce_zero_label`` expects) marks a thin band along every region boundary and a few blobs;
    1 is background and 2-6 the shapes (:data:`SEG_CLASSES`).

    Args:
        out: Dataset root to write.
        train: Training images.
        val: Validation images.
        size: Image size (height, width).
        max_objects: Most shapes per image.
        radius: Range of the shapes' radius, as fractions of the short side.
        max_overlap: Largest fraction of a shape that another may hide (1: any occlusion).
        seed: Seed of the generator.

    Returns:
        The number of images written per split.
    """
    rng = np.random.default_rng(seed)
    H, W = size
    counts = {}
    for split, count in (('training', train), ('validation', val)):
        for sub in ('images', 'annotations'):
            os.makedirs(osp.join(out, sub, split), exist_ok=True)
        for i in range(count):
            img = random_background(rng, H, W)
            label = np.ones((H, W), np.uint8)
            n = int(rng.integers(1, max_objects + 1))
            for cls, mask in scatter_shapes(rng, img, n, radius, max_overlap):
                label[mask] = cls + 2
            edges = cv2.morphologyEx(label, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)) > 0
            label[edges] = 0
            for _ in range(int(rng.integers(0, 3))):
                c = tuple(int(v) for v in rng.integers(0, [W, H]))
                cv2.circle(label, c, int(rng.integers(3, 8)), 0, -1)
            name = f'toy_{split}_{i:05d}'
            cv2.imwrite(
                osp.join(out, 'images', split, name + '.jpg'), img, [cv2.IMWRITE_JPEG_QUALITY, 95]
            )
            cv2.imwrite(osp.join(out, 'annotations', split, name + '.png'), label)
        counts[split] = count
    return counts
