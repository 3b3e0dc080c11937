"""mmpretrain's Grad-CAM tool (``tools/visualization/vis_cam.py`` of mmpretrain 1.2.0) on DFvT.

Same arguments and output as ``mim run mmpretrain vis_cam``: this script loads mmpretrain's tool
from the installed package, replaces two of its functions and calls its ``main()``; the model,
the test pipeline, the target layers (default: the backbone's last norm layer, ``backbone.norm3``
for a DFvT classifier), the CAM methods and the saved overlay are all mmpretrain's::

    python tools/visualization/vis_cam.py IMG CONFIG CHECKPOINT --method GradCAM++ \\
        --save-path cam.png

Why mmpretrain's tool cannot run as it is (each seen with mmpretrain 1.2.0):

1. Its ``init_cam`` passes ``use_cuda`` to the CAM class; grad-cam 1.5 removed that argument, so
   with grad-cam >= 1.5 (1.5.7 is installed; requirements/optional.txt does not pin it) every
   run ends in ``TypeError: ... unexpected keyword argument 'use_cuda'``. Replaced by the same
   construction without it.
2. Its ``reshape_transform`` takes every 4-D activation for (N, C, H, W). The map a DFvT
   classifier pools is ``backbone.norm3``'s output, a LayerNorm over channels-last (N, H, W, C)
   tokens; DFvT permutes it to (N, C, H, W) in its ``forward``, not in a module, so no module
   outputs it channels-first. Read as (N, C, H, W), the CAM is computed over the wrong axes
   without an error (with grad-cam 1.4.8, which accepts ``use_cuda``: a 2 x 384 "map" for a 2 x 2
   grid). :func:`channels_first` puts such maps in (N, C, H, W) before mmpretrain's transform.
"""

from __future__ import annotations

import importlib.util
import os.path as osp
import sys
from collections.abc import Callable, Sequence
from types import ModuleType

from mmengine.utils import get_installed_path
from torch import Tensor, nn


def load_mmpretrain_tool() -> ModuleType:
    """mmpretrain's ``vis_cam.py`` (what ``mim run mmpretrain vis_cam`` runs), as a module."""
    path = osp.join(
        get_installed_path('mmpretrain'), '.mim', 'tools', 'visualization', 'vis_cam.py'
    )
    spec = importlib.util.spec_from_file_location('mmpretrain_vis_cam', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def channels_first(tensor: Tensor, layer_norm_dims: set[int]) -> Tensor:
    """A LayerNorm's channels-last (N, H, W, C) map as (N, C, H, W); anything else unchanged.

    Args:
        tensor: A target layer's output or its gradient.
        layer_norm_dims: The channel counts the target LayerNorms normalise (their last
            ``normalized_shape``): a 4-D tensor whose last dimension is one of them, and whose
            second is not, is channels-last.
    """
    if tensor.ndim == 4 and tensor.shape[-1] in layer_norm_dims:
        if tensor.shape[1] not in layer_norm_dims:
            return tensor.permute(0, 3, 1, 2)
    return tensor


def make_init_cam(tool: ModuleType) -> Callable:
    """mmpretrain's ``init_cam`` without ``use_cuda`` and with :func:`channels_first`."""

    def init_cam(
        method: str,
        model: nn.Module,
        target_layers: Sequence[nn.Module],
        use_cuda: bool,
        reshape_transform: Callable,
    ) -> object:
        # grad-cam >= 1.5 runs on the model's own device: use_cuda is not needed.
        dims = {m.normalized_shape[-1] for m in target_layers if isinstance(m, nn.LayerNorm)}

        def transform(tensor: Tensor) -> Tensor:
            return reshape_transform(channels_first(tensor, dims))

        cam_class = tool.METHOD_MAP[method.lower()]
        return cam_class(model=model, target_layers=target_layers, reshape_transform=transform)

    return init_cam


def patched_tool() -> ModuleType:
    """mmpretrain's tool with :func:`make_init_cam`'s ``init_cam`` in place of its own."""
    tool = load_mmpretrain_tool()
    tool.init_cam = make_init_cam(tool)
    return tool


def main(argv: Sequence[str] | None = None) -> None:
    tool = patched_tool()
    if argv is not None:
        sys.argv = [sys.argv[0], *argv]
    tool.main()


if __name__ == '__main__':
    main()
