"""The built-in toy tasks: procedural shape datasets for classification, instance segmentation and
semantic segmentation, small enough to train DFvT on a CPU in minutes."""

from .data import SEG_CLASSES, write_ade20k, write_classification, write_coco
from .shapes import SHAPES

__all__ = ['SEG_CLASSES', 'SHAPES', 'write_ade20k', 'write_classification', 'write_coco']
