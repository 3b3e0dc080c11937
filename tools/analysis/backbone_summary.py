"""Build DFvT-T/S/B and print per-stage output shapes, parameters and FLOPs.

Shapes are those of the dense backbone (out_indices 0-3, the detection/segmentation setting);
parameters and FLOPs are those of the ImageNet classifier (DFvT + GAP + linear head) at 224x224,
counted with mmengine's complexity analysis.
"""

import argparse
import os.path as osp
import time

import torch
from mmengine.analysis import get_model_complexity_info
from mmengine.config import Config
from mmpretrain.registry import MODELS

from dfvt_mm.models import DFvT

CONFIGS = osp.join(osp.dirname(osp.abspath(__file__)), '..', '..', 'configs')
PAPER = {'tiny': (4.0, 0.3), 'small': (11.2, 0.8), 'base': (37.3, 2.5)}


def classifier(arch: str) -> torch.nn.Module:
    """The ImageNet classifier of configs/dfvt_{t,s,b}_in1k.py."""
    cfg = Config.fromfile(osp.join(CONFIGS, f'dfvt_{arch[0]}_in1k.py'))
    return MODELS.build(cfg.model)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--size', type=int, nargs=2, default=(224, 224), metavar=('H', 'W'))
    args = parser.parse_args()
    H, W = args.size
    rows = []
    for arch in ('tiny', 'small', 'base'):
        start = time.perf_counter()
        backbone = DFvT(arch, out_indices=(0, 1, 2, 3), pad_small_map=True).eval()
        with torch.no_grad():
            outs = backbone(torch.rand(1, 3, H, W))
        cls = classifier(arch).eval()
        info = get_model_complexity_info(
            cls, input_shape=(3, H, W), show_table=False, show_arch=False
        )
        rows.append(
            (
                arch,
                [tuple(o.shape[1:]) for o in outs],
                info['params'] / 1e6,
                info['flops'] / 1e9,
                time.perf_counter() - start,
            )
        )

    print(f'\nDFvT backbones at {H}x{W} (paper: params M / FLOPs G of the ImageNet classifier)')
    header = (
        f'{"arch":6} {"stage outputs (C, H, W), strides 4/8/16/32":58} {"params M":>9} '
        f'{"paper":>6} {"FLOPs G":>8} {"paper":>6}'
    )
    print(header)
    print('-' * len(header))
    for arch, shapes, params, flops, _ in rows:
        shape_str = ' '.join(f'{s}' for s in shapes)
        p_params, p_flops = PAPER[arch]
        print(f'{arch:6} {shape_str:58} {params:9.2f} {p_params:6.1f} {flops:8.2f} {p_flops:6.1f}')
    print(
        "FLOPs: mmengine's count, attention included; the paper's figures leave out the two stem "
        'convolutions.'
    )


if __name__ == '__main__':
    main()
