"""Network builders, one module per family; importing this package registers them all.

Adding a family is one module here (builders + ``register_model`` records) plus its import
below, its conversion rules in ``keras_seg.convert`` when it has published weights, and tests.
"""

from keras_seg.backends import use_torch_parameter_keys
from keras_seg.models import dilation, discriminators, fc_densenet, fcn, segnet, unet
from keras_seg.models.base import SegmentationModel
from keras_seg.registration import register_with_keras

use_torch_parameter_keys()  # under KERAS_BACKEND=torch: layer names with dots (U-Net, FC-DenseNet)
register_with_keras()  # what a built model's training checkpoints name reloads without more

__all__ = ["SegmentationModel", "dilation", "discriminators", "fc_densenet", "fcn", "segnet",
           "unet"]
