# The paper's ablations (Tables 2-5): modules of the registry that their configs name.
from . import (
    ablations,  # noqa: F401
    backbones,
)
from .backbones import *  # noqa: F403 (the backbones' public names, listed once there)
from .layers import WindowMSA

__all__ = [*backbones.__all__, 'WindowMSA']
