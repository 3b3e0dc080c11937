from .window_attention import WindowMSA, relative_position_index, shift_window_mask, window_geometry

__all__ = ['WindowMSA', 'relative_position_index', 'shift_window_mask', 'window_geometry']
