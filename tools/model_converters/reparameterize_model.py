"""Fold the BatchNorms of a trained DFvT model into its convs (mmpretrain's re-parameterisation).

Loads the config's model with the checkpoint, calls ``model.backbone.switch_to_deploy()`` and saves
the result; then use the same config with ``model.backbone.deploy=True``. Works for the classifier,
detector and segmentor configs alike.

Example:
    python tools/model_converters/reparameterize_model.py configs/dfvt_t_in1k.py \
        checkpoints/dfvt_t_in1k.pth checkpoints/dfvt_t_in1k_deploy.pth
    python tools/test.py configs/dfvt_t_in1k.py checkpoints/dfvt_t_in1k_deploy.pth \
        --cfg-options model.backbone.deploy=True
"""

import argparse
import sys

from mmengine.config import DictAction

import dfvt_mm  # noqa: F401  (registers DFvT)
from dfvt_mm.engine.runner import load_config
from dfvt_mm.models.reparameterize import reparameterize_checkpoint
from dfvt_mm.utils.checkpoint import CheckpointError


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='the config the checkpoint was trained with')
    parser.add_argument('checkpoint', help='the trained checkpoint')
    parser.add_argument('dst', help='where to save the folded checkpoint (.pth)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help='config overrides')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if not args.dst.endswith('.pth'):
        raise SystemExit(f'dst must be a .pth file, got {args.dst!r}')
    cfg, _ = load_config(args.config, cfg_options=args.cfg_options)
    try:
        result = reparameterize_checkpoint(cfg, args.checkpoint, args.dst)
    except (CheckpointError, FileNotFoundError, ValueError, TypeError) as e:
        sys.exit(f'error: {e}')
    print(
        f'{result["num_tensors"]} tensors written to {result["dst"]}; the backbone outputs differ '
        f'from the unfolded ones by at most {result["max_diff"]:.2e}. Load it with '
        f'--cfg-options model.backbone.deploy=True.'
    )


if __name__ == '__main__':
    main()
