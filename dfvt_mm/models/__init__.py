from .backbones import DFvT, convert_official_checkpoint
from .layers import WindowMSA

__all__ = ['DFvT', 'WindowMSA', 'convert_official_checkpoint']
