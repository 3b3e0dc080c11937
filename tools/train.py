"""Train a model of any of the three tasks (mmpretrain, mmdet or mmseg config) with mmengine.

A command line over :mod:`dfvt_mm.engine.train` (also ``python -m dfvt_mm.engine.train``).

Example:
    python tools/train.py configs/dfvt_t_in1k.py --work-dir work_dirs/dfvt_t_in1k
"""

from dfvt_mm.engine.train import main

if __name__ == '__main__':
    main()
