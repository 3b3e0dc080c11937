"""Parameters and FLOPs of a model of any of the three tasks, with mmengine's complexity analysis.

FLOPs count one multiply-add as one FLOP (fvcore's convention, used by the papers of the field),
attention included (dfvt_mm registers a handle for ``scaled_dot_product_attention``). Detection
models are traced through RPN, box and mask heads in ``tensor`` mode, as mmdet's own tool does.

Example:
    python tools/analysis/get_flops.py configs/mask_rcnn_dfvt_t_coco.py --shape 800 1280
"""

import argparse
import json
from functools import partial

import torch
from mmengine.analysis import get_model_complexity_info
from mmengine.config import Config, DictAction
from mmengine.registry import DefaultScope, init_default_scope

import dfvt_mm  # noqa: F401

DEFAULT_SHAPES = {'mmpretrain': (224, 224), 'mmdet': (800, 1280), 'mmseg': (512, 2048)}


def build_model(cfg: Config) -> torch.nn.Module:
    """The config's model in its own scope's registry, without loading any checkpoint."""
    from mmengine.registry import MODELS

    init_default_scope(cfg.default_scope)
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        model = MODELS.build(cfg.model)
    return model.eval()


def complexity(cfg: Config, shape: tuple[int, int]) -> dict:
    """Parameters and FLOPs of the config's model on one ``shape`` (H, W) image."""
    scope = cfg.default_scope
    model = build_model(cfg)
    H, W = shape
    if scope == 'mmpretrain':
        inputs = (torch.rand(1, 3, H, W),)
    else:
        if scope == 'mmdet':
            from mmdet.structures import DetDataSample as Sample
        else:
            from mmseg.structures import SegDataSample as Sample
        meta = dict(img_shape=(H, W), ori_shape=(H, W), pad_shape=(H, W), scale_factor=(1.0, 1.0))
        data = model.data_preprocessor(
            dict(
                inputs=[torch.randint(0, 256, (3, H, W), dtype=torch.uint8)],
                data_samples=[Sample(metainfo=meta)],
            )
        )
        model.forward = partial(model.forward, data_samples=data['data_samples'], mode='tensor')
        inputs = (data['inputs'],)
    with torch.no_grad():
        info = get_model_complexity_info(model, inputs=inputs, show_table=False, show_arch=False)
    return dict(config=cfg.filename, shape=[H, W], params=info['params'], flops=info['flops'])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='config of any of the three tasks')
    parser.add_argument(
        '--shape',
        type=int,
        nargs=2,
        metavar=('H', 'W'),
        help='input size; default: 224x224 (classification), 800x1280 '
        '(detection), 512x2048 (segmentation)',
    )
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    parser.add_argument('--json', action='store_true', help='print one JSON line instead')
    args = parser.parse_args()
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    shape = tuple(args.shape or DEFAULT_SHAPES[cfg.default_scope])
    result = complexity(cfg, shape)
    if args.json:
        print(json.dumps(result))
        return
    print(
        f'{"config":<8}{result["config"]}\n{"input":<8}{shape[0]}x{shape[1]}\n'
        f'{"params":<8}{result["params"] / 1e6:.2f} M\n{"FLOPs":<8}{result["flops"] / 1e9:.2f} G'
    )


if __name__ == '__main__':
    main()
