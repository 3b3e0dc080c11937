"""DFvT-T/S/B: per-stage output shapes, and the ImageNet classifiers' parameters and FLOPs next to
the paper's (:func:`dfvt_mm.analysis.complexity.backbone_summary`; the paper's numbers come from
``configs/metafiles``)."""

import argparse

from tabulate import tabulate

import dfvt_mm  # noqa: F401  (registers DFvT and the attention FLOP handle)
from dfvt_mm.analysis.complexity import backbone_summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--size', type=int, nargs=2, default=(224, 224), metavar=('H', 'W'))
    args = parser.parse_args()
    H, W = args.size
    rows = [
        [
            r['backbone'],
            ' '.join(map(str, r['stage_shapes'])),
            f'{r["params"] / 1e6:.2f}',
            f'{r["paper_params"] / 1e6:.1f}',
            f'{r["flops"] / 1e9:.2f}',
            f'{r["paper_flops"] / 1e9:.1f}',
        ]
        for r in backbone_summary((H, W))
    ]
    headers = ['backbone', 'stage outputs (C, H, W), strides 4/8/16/32', 'params M', 'paper']
    print(f'DFvT at {H}x{W}; params and FLOPs of the ImageNet classifier (paper: Table 1, 224x224)')
    print(tabulate(rows, headers=[*headers, 'FLOPs G', 'paper'], disable_numparse=True))
    print(
        "FLOPs: mmengine's count, attention included; the paper's figures leave out the two stem "
        'convolutions.'
    )


if __name__ == '__main__':
    main()
