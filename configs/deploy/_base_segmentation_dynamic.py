# As _base_segmentation.py, with height and width dynamic too (mmdeploy's segmentation_dynamic.py):
# one graph takes images of any size (DFvT pads to its stem's stride, to even sizes and to its
# windows inside the graph). The label map has the input's size.
_base_ = ['./_base_segmentation.py']

onnx_config = dict(
    dynamic_axes={
        'input': {0: 'batch', 2: 'height', 3: 'width'},
        'output': {0: 'batch', 2: 'height', 3: 'width'},
    }
)
# The check (dfvt_mm/deployment/check.py) also runs the graph on the image resized to each of these
# [width, height] sizes (as onnx_config.input_shape): odd and unequal sides, so that every padding
# in the graph runs.
check_shapes = [[83, 61], [45, 127], [112, 80]]
