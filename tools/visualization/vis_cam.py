"""Grad-CAM++ (and Grad-CAM) heat maps of a DFvT classifier on an image, as in the supplementary's
Fig. 1, using the ``grad-cam`` package; saves the overlay picture.

The model comes from the config (``custom_imports`` bring in ``dfvt_mm``) through mmpretrain's
``get_model``; the image goes through the config's test pipeline and the model's data
preprocessor, and the heat map is drawn over that preprocessed (resized, cropped) image. The
default target layer is the backbone's last output norm (``backbone.norm3`` for a DFvT classifier):
the map the classifier's neck pools. DFvT outputs it channels-last, so the activations and
gradients are permuted to (N, C, H, W) before the CAM weights are computed.

The picture shows the input and one overlay per method and target category side by side, upscaled
so that the short side is at least ``--display-size`` pixels.

Example:
    python tools/visualization/vis_cam.py demo.png configs/toy/dfvt_t_toy_in1k.py \\
        work_dirs/dfvt_t_toy_in1k/epoch_15.pth --method gradcam++ gradcam --save-path cam.png
"""

from __future__ import annotations

import argparse
import difflib
import math
import os
import os.path as osp
import warnings
from collections.abc import Sequence

import cv2
import numpy as np
import torch
from mmcv.transforms import Compose
from mmengine.config import Config, DictAction
from mmengine.dataset import default_collate
from mmengine.registry import DefaultScope
from mmengine.runner import load_checkpoint
from mmengine.utils.dl_utils import is_norm
from mmpretrain.apis import get_model
from mmpretrain.registry import TRANSFORMS
from pytorch_grad_cam import GradCAM, GradCAMPlusPlus
from pytorch_grad_cam.utils.image import show_cam_on_image
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
from torch import Tensor, nn

from dfvt_mm.utils.launch import load_config

METHODS = {'gradcam++': GradCAMPlusPlus, 'gradcam': GradCAM}
METHOD_NAMES = {'gradcam++': 'Grad-CAM++', 'gradcam': 'Grad-CAM'}


def build_classifier(
    config: str,
    checkpoint: str | None = None,
    device: str = 'cpu',
    cfg_options: dict | None = None,
) -> tuple[nn.Module, Config, list[str]]:
    """The config's classifier in eval mode, with the checkpoint's weights if one is given.

    Without a checkpoint the model keeps its initialization (with a warning): the maps then show
    the architecture's receptive fields, not what a trained model looks at.

    Returns:
        The model, the loaded config and the class names (the checkpoint's, else the config's
        test dataset's, else the dataset type's, else the class indices).
    """
    cfg, task = load_config(config, cfg_options=cfg_options)
    if task != 'mmpretrain':
        raise ValueError(f'{config}: a {task} config; Grad-CAM here explains classifiers')
    model = get_model(cfg, device=device)
    meta_classes = None
    if checkpoint:
        # Strict: a checkpoint of another model (or a detection backbone) must not leave half of
        # the classifier at random without saying so.
        ckpt = load_checkpoint(model, checkpoint, map_location='cpu', strict=True)
        meta_classes = ckpt.get('meta', {}).get('dataset_meta', {}).get('classes')
    else:
        warnings.warn(
            'no checkpoint given: the model is randomly initialized, so the heat maps say '
            'nothing about what a trained DFvT looks at',
            stacklevel=2,
        )
        model.init_weights()
    model.eval()
    num_classes = model.head.num_classes
    cfg_classes = cfg.test_dataloader.dataset.get('metainfo', {}).get('classes')
    # get_model falls back to the dataset type's METAINFO (ImageNet's 1000 names even for a
    # 5-class config), so a list counts only when it has one name per logit.
    for names in (meta_classes, cfg_classes, model._dataset_meta.get('classes')):
        if names is not None and len(names) == num_classes:
            return model, cfg, list(names)
    return model, cfg, [str(i) for i in range(num_classes)]


def load_image(model: nn.Module, cfg: Config, img_path: str) -> tuple[Tensor, np.ndarray]:
    """Run an image file through the config's test pipeline and the model's data preprocessor.

    Returns:
        The model input (1, 3, H, W) and the pipeline's image (H, W, 3) uint8 BGR, the picture
        the heat map belongs to.
    """
    if not osp.isfile(img_path):
        raise FileNotFoundError(f'image not found: {img_path}')
    # Another default scope (a Runner's, in the same process) would look the transforms up in
    # its own registry; get_model builds the model in mmpretrain's scope the same way.
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        pipeline = Compose([TRANSFORMS.build(t) for t in cfg.test_dataloader.dataset.pipeline])
    data = pipeline(dict(img_path=img_path))
    src = data['inputs'].numpy().transpose(1, 2, 0).copy()
    inputs = model.data_preprocessor(default_collate([data]), False)['inputs']
    return inputs, src


def default_target_layers(model: nn.Module) -> list[str]:
    """The layer whose map the classifier pools: DFvT's last output norm (``norm{i}`` for the
    last of ``out_indices``); for other backbones the last norm layer, as mmpretrain's tool."""
    backbone = model.backbone
    out_indices = getattr(backbone, 'out_indices', None)
    if out_indices and hasattr(backbone, f'norm{out_indices[-1]}'):
        return [f'backbone.norm{out_indices[-1]}']
    norms = [name for name, m in backbone.named_modules(prefix='backbone') if is_norm(m)]
    if not norms:
        raise ValueError('the backbone has no norm layer; name one with --target-layers')
    return norms[-1:]


def get_layers(model: nn.Module, names: Sequence[str]) -> list[nn.Module]:
    """The modules called ``names`` (as in ``model.named_modules()``); an unknown name is an
    error that suggests near names."""
    modules = dict(model.named_modules())
    layers = []
    for name in names:
        if name not in modules:
            near = difflib.get_close_matches(name, list(modules), n=5, cutoff=0.6)
            suggestions = list(dict.fromkeys(near + default_target_layers(model)))
            raise ValueError(
                f'unknown target layer {name!r}; valid names include {", ".join(suggestions)} '
                f'(the model has {len(modules)} modules; `print(model)` lists them)'
            )
        layers.append(modules[name])
    return layers


def feature_grids(height: int, width: int) -> list[tuple[int, int]]:
    """The map sizes a stride-1..64 layer gives on a ``height`` x ``width`` input."""
    return [(math.ceil(height / 2**k), math.ceil(width / 2**k)) for k in range(7)]


def to_nchw(tensor: Tensor, grids: Sequence[tuple[int, int]]) -> Tensor:
    """A target layer's output (or its gradient) as an (N, C, H, W) map.

    DFvT's token layers output channels-last maps (N, H, W, C); other models' may be tokens
    (N, H*W, C). The layout is told by which dimensions match one of the input's feature grids.
    """
    if not isinstance(tensor, Tensor):
        raise TypeError(
            f'a target layer outputs {type(tensor).__name__}, not one feature map; choose a '
            'layer that outputs a tensor (e.g. backbone.norm3, not a whole stage)'
        )
    if tensor.dim() == 4 and tuple(tensor.shape[2:]) in grids:
        return tensor
    if tensor.dim() == 4 and tuple(tensor.shape[1:3]) in grids:
        return tensor.permute(0, 3, 1, 2)
    if tensor.dim() == 3:
        for h, w in grids:
            if h * w == tensor.shape[1]:
                return tensor.reshape(tensor.shape[0], h, w, -1).permute(0, 3, 1, 2)
    raise ValueError(
        f'a target layer outputs shape {tuple(tensor.shape)}, which is not a feature map of the '
        f'input (sizes {grids[:6]}); choose another layer'
    )


def predict(model: nn.Module, inputs: Tensor) -> tuple[int, float]:
    """The predicted class index and its softmax score."""
    with torch.no_grad():
        scores = model(inputs).softmax(dim=-1)[0]
    return int(scores.argmax()), float(scores.max())


def compute_cam(
    model: nn.Module,
    inputs: Tensor,
    method: str = 'gradcam++',
    target_layers: Sequence[str] | None = None,
    target_category: int | None = None,
) -> np.ndarray:
    """The class activation map of one image.

    Args:
        model: An mmpretrain classifier (its ``tensor`` mode gives the logits).
        inputs: The preprocessed image, (1, 3, H, W).
        method: ``'gradcam++'`` or ``'gradcam'``.
        target_layers: Module names; several are averaged. Defaults to
            :func:`default_target_layers`.
        target_category: The class to explain. Defaults to the predicted one.

    Returns:
        The map, (H, W) float32 in [0, 1]: min-max normalized by grad-cam, all zeros where no
        location raises the class's score.
    """
    if method.lower() not in METHODS:
        raise ValueError(f'unknown CAM method {method!r}; choose from {list(METHODS)}')
    if inputs.dim() != 4 or inputs.shape[0] != 1:
        raise ValueError(f'expected one image (1, 3, H, W), got shape {tuple(inputs.shape)}')
    layers = get_layers(model, target_layers or default_target_layers(model))
    grids = feature_grids(*inputs.shape[2:])
    cam = METHODS[method.lower()](
        model=model, target_layers=layers, reshape_transform=lambda t: to_nchw(t, grids)
    )
    targets = None if target_category is None else [ClassifierOutputTarget(target_category)]
    try:
        grayscale = cam(input_tensor=inputs, targets=targets)
    finally:
        # grad-cam's own context manager swallows IndexError; release the hooks explicitly.
        cam.activations_and_grads.release()
    return grayscale[0].astype(np.float32)


def render(src: np.ndarray, cams: Sequence[np.ndarray], display_size: int = 224) -> np.ndarray:
    """The input and one overlay per map side by side, upscaled so the short side is at least
    ``display_size`` (by a whole factor: a 64-pixel image becomes 256).

    Args:
        src: The pipeline's image (H, W, 3) uint8 BGR.
        cams: Maps (H, W) in [0, 1].
        display_size: The least short side of each panel in pixels.

    Returns:
        The picture (H * k, W * k * (1 + len(cams)), 3) uint8 BGR.
    """
    h, w = src.shape[:2]
    scale = max(1, math.ceil(display_size / min(h, w)))
    size = (w * scale, h * scale)
    big = cv2.resize(src, size, interpolation=cv2.INTER_CUBIC)
    panels = [big]
    for cam in cams:
        heat = cv2.resize(cam, size, interpolation=cv2.INTER_LINEAR).clip(0, 1)
        panels.append(show_cam_on_image(big.astype(np.float32) / 255, heat, use_rgb=False))
    return np.concatenate(panels, axis=1)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('img', help='image file')
    parser.add_argument('config', help='classification config')
    parser.add_argument('checkpoint', nargs='?', help='checkpoint; none: random init (a warning)')
    parser.add_argument(
        '--method',
        nargs='+',
        default=['gradcam++'],
        type=str.lower,
        choices=list(METHODS),
        help='CAM methods, one overlay each (e.g. --method gradcam++ gradcam to compare)',
    )
    parser.add_argument(
        '--target-layers',
        nargs='+',
        help='module names (averaged); default: the last output norm of the backbone, '
        'backbone.norm3 for DFvT',
    )
    parser.add_argument(
        '--target-category',
        nargs='+',
        type=int,
        help='classes to explain, one overlay each; default: the predicted class',
    )
    parser.add_argument('--save-path', default='cam.png', help='output picture (PNG, JPEG)')
    parser.add_argument(
        '--display-size', type=int, default=224, help='least short side of each panel in pixels'
    )
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help='config overrides')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    model, cfg, classes = build_classifier(
        args.config, args.checkpoint, device=args.device, cfg_options=args.cfg_options
    )
    inputs, src = load_image(model, cfg, args.img)
    pred, score = predict(model, inputs)
    print(f'{args.img}: predicted {classes[pred]} (class {pred}, score {score:.4f})')
    layers = args.target_layers or default_target_layers(model)
    categories = args.target_category or [pred]
    for c in categories:
        if not 0 <= c < len(classes):
            raise ValueError(f'--target-category {c} is out of range: {len(classes)} classes')
    panels = [(m, c) for m in args.method for c in categories]
    cams = [compute_cam(model, inputs, m, layers, c) for m, c in panels]
    os.makedirs(osp.dirname(osp.abspath(args.save_path)), exist_ok=True)
    if not cv2.imwrite(args.save_path, render(src, cams, args.display_size)):
        raise OSError(f'could not write {args.save_path} (unknown image extension?)')
    names = ' | '.join(f'{METHOD_NAMES[m]} of {classes[c]}' for m, c in panels)
    print(f'target layers {", ".join(layers)}; saved input | {names} to {args.save_path}')


if __name__ == '__main__':
    main()
