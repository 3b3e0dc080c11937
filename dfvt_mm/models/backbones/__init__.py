from .dfvt import DFvT, convert_official_checkpoint, infer_arch, is_official_layout

__all__ = ['DFvT', 'convert_official_checkpoint', 'infer_arch', 'is_official_layout']
