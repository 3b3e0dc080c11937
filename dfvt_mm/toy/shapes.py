"""Procedural shapes for the built-in small datasets (classification, COCO-style instances, ADE20K-
style semantic maps).

Every class is a shape (circle, square, triangle, star, cross) drawn with a random colour, size,
position and rotation over a random textured background, so only shape tells classes apart.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

SHAPES = ('circle', 'square', 'triangle', 'star', 'cross')


def shape_polygon(
    shape: str, center: tuple[float, float], radius: float, angle: float
) -> np.ndarray:
    """Vertices (N, 2) float32 (x, y) of ``shape`` around ``center``, rotated by ``angle`` rad."""
    if shape == 'circle':
        t = np.linspace(0, 2 * math.pi, 32, endpoint=False)
        pts = np.stack([np.cos(t), np.sin(t)], 1)
    elif shape == 'square':
        pts = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], dtype=np.float64) * 0.75
    elif shape == 'triangle':
        t = np.array([-math.pi / 2, math.pi / 6, 5 * math.pi / 6])
        pts = np.stack([np.cos(t), np.sin(t)], 1)
    elif shape == 'star':
        t = np.linspace(-math.pi / 2, 1.5 * math.pi, 10, endpoint=False)
        r = np.where(np.arange(10) % 2 == 0, 1.0, 0.45)
        pts = np.stack([r * np.cos(t), r * np.sin(t)], 1)
    elif shape == 'cross':
        a, b = 1.0, 0.33
        pts = np.array(
            [
                [-b, -a],
                [b, -a],
                [b, -b],
                [a, -b],
                [a, b],
                [b, b],
                [b, a],
                [-b, a],
                [-b, b],
                [-a, b],
                [-a, -b],
                [-b, -b],
            ]
        )
    else:
        raise ValueError(f'unknown shape {shape!r}; known: {SHAPES}')
    rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    return (pts @ rot.T * radius + np.asarray(center)).astype(np.float32)


def random_background(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A BGR uint8 background: a random colour gradient with noise and a few faint lines."""
    c0, c1 = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
    ramp = np.linspace(0, 1, width)[None, :, None]
    img = (c0 * (1 - ramp) + c1 * ramp) * np.ones((height, 1, 1))
    img += rng.normal(0, 12, (height, width, 3))
    img = np.clip(img, 0, 255).astype(np.uint8)
    for _ in range(rng.integers(0, 4)):
        p0 = tuple(int(v) for v in rng.integers(0, [width, height]))
        p1 = tuple(int(v) for v in rng.integers(0, [width, height]))
        cv2.line(img, p0, p1, tuple(int(v) for v in rng.integers(0, 256, 3)), 1)
    return img


def random_color(rng: np.random.Generator, avoid: np.ndarray | None = None) -> tuple[int, ...]:
    """A random BGR colour, away from ``avoid`` (the local background) so shapes stay visible."""
    while True:
        color = rng.integers(0, 256, 3)
        if avoid is None or np.abs(color - avoid).sum() > 150:
            return tuple(int(c) for c in color)


def polygon_mask(polygon: np.ndarray, height: int, width: int) -> np.ndarray:
    """The pixels ``polygon`` covers on a ``height x width`` image, as a bool mask."""
    mask = np.zeros((height, width), np.uint8)
    cv2.fillPoly(mask, [np.round(polygon).astype(np.int32)], 1, lineType=cv2.LINE_8)
    return mask.astype(bool)


def draw_polygon(img: np.ndarray, polygon: np.ndarray, color: tuple[int, ...]) -> np.ndarray:
    """Fill ``polygon`` on ``img`` in place; returns the filled area as a bool mask."""
    mask = polygon_mask(polygon, *img.shape[:2])
    img[mask] = color
    return mask


def scatter_shapes(
    rng: np.random.Generator,
    img: np.ndarray,
    count: int,
    radius: tuple[float, float],
    max_overlap: float = 1.0,
    tries: int = 30,
) -> list[tuple[int, np.ndarray]]:
    """Draw ``count`` random shapes on ``img`` in place, each in a colour that stands out locally.

    A shape may hide at most ``max_overlap`` of its own area and of each earlier shape's visible
    area (1.0: any occlusion); a placement that breaks this is drawn again, up to ``tries`` times,
    then the shape is left out.

    Args:
        rng: Random generator.
        img: BGR image to draw on.
        count: Number of shapes to try to place.
        radius: Range of the shapes' radius, as fractions of the image's short side.
        max_overlap: Largest fraction of a shape that another may cover.
        tries: Placements tried per shape.

    Returns:
        ``(class index into SHAPES, visible bool mask)`` per placed shape, in drawing order; earlier
        masks exclude what later shapes cover.
    """
    H, W = img.shape[:2]
    placed: list[tuple[int, np.ndarray]] = []
    for _ in range(count):
        label = int(rng.integers(len(SHAPES)))
        for _ in range(tries):
            r = rng.uniform(*radius) * min(H, W)
            center = rng.uniform([r, r], [W - r, H - r])
            polygon = shape_polygon(SHAPES[label], tuple(center), r, rng.uniform(0, 2 * math.pi))
            mask = polygon_mask(polygon, H, W)
            area = mask.sum()
            if area and all(
                (mask & m).sum() <= max_overlap * min(area, m.sum()) for _, m in placed
            ):
                break
        else:
            continue
        local = img[int(center[1]), int(center[0])].astype(int)
        img[mask] = random_color(rng, avoid=local)
        for _, other in placed:  # occlusion: the new shape hides what it covers
            other &= ~mask
        placed.append((label, mask))
    return placed
