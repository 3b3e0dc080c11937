# As _base_instance-seg.py, with height and width dynamic too (mmdeploy's
# base_instance-seg_dynamic.py): one graph takes images of any size the data preprocessor gives it
# (padded to a multiple of 32). Masks stay 28x28 per detection (pasted outside the graph).
_base_ = ['./_base_instance-seg.py']

onnx_config = dict(
    dynamic_axes={
        'input': {0: 'batch', 2: 'height', 3: 'width'},
        'dets': {0: 'batch', 1: 'num_dets'},
        'labels': {0: 'batch', 1: 'num_dets'},
        'masks': {0: 'batch', 1: 'num_dets'},
    }
)
# The check (dfvt_mm/deployment/check.py) also runs the graph on the image resized to each of these
# [width, height] sizes (as onnx_config.input_shape); padded to 32, the graph runs at 64x96, 96x96
# and 128x64.
check_shapes = [[83, 61], [96, 96], [45, 127]]
