"""Evaluate a checkpoint of any of the three tasks (mmpretrain, mmdet or mmseg config).

A command line over :mod:`dfvt_mm.engine.test` (also ``python -m dfvt_mm.engine.test``).

Example:
    python tools/test.py configs/dfvt_t_in1k.py work_dirs/dfvt_t_in1k/epoch_300.pth
"""

from dfvt_mm.engine.test import main

if __name__ == '__main__':
    main()
