"""Measurements of the package's models (not imported by ``dfvt_mm`` itself)."""

from .speed import compare_with_previous, load_previous_dfvt

__all__ = ['compare_with_previous', 'load_previous_dfvt']
