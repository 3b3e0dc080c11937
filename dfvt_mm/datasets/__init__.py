from .toy_shapes import SHAPES, draw_polygon, random_background, random_color, shape_polygon

__all__ = ['SHAPES', 'draw_polygon', 'random_background', 'random_color', 'shape_polygon']
