"""Parameters and FLOPs of a model of any of the three tasks, with mmengine's complexity analysis
(:func:`dfvt_mm.analysis.complexity.model_complexity`).

FLOPs count one multiply-add as one FLOP, attention included. Detection models are traced through
their RPN, box and mask heads in ``tensor`` mode, as mmdet's own tool does.

Example:
    python tools/analysis/get_flops.py configs/mask_rcnn_dfvt_t_coco.py --shape 800 1280
"""

import argparse
import json

from mmengine.config import DictAction

import dfvt_mm  # noqa: F401  (registers DFvT and the attention FLOP handle)
from dfvt_mm.analysis.complexity import model_complexity


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='config of any of the three tasks')
    parser.add_argument(
        '--shape',
        type=int,
        nargs=2,
        metavar=('H', 'W'),
        help="input size; default: the paper's, 224x224 (classification), 800x1280 "
        '(detection), 512x2048 (segmentation)',
    )
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    parser.add_argument('--json', action='store_true', help='print one JSON line instead')
    args = parser.parse_args()
    result = model_complexity(args.config, args.shape, args.cfg_options)
    if args.json:
        print(json.dumps(result))
        return
    H, W = result['shape']
    print(
        f'{"config":<8}{result["config"]}\n{"input":<8}{H}x{W}\n'
        f'{"params":<8}{result["params"] / 1e6:.2f} M\n{"FLOPs":<8}{result["flops"] / 1e9:.2f} G'
    )


if __name__ == '__main__':
    main()
