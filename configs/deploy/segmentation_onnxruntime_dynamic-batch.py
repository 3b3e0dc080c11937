# UperNet on DFvT (mmseg) to onnxruntime (see _base_segmentation.py for the graph); height and
# width are those of the export image after the test pipeline.
_base_ = ['./_base_segmentation.py', './_base_onnxruntime.py']
