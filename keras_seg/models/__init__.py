"""Network builders, one module per family; importing this package registers them all.

Adding a family is one module here (builders + ``register_model`` records) plus its import
below, its conversion rules in ``keras_seg.convert`` when it has published weights, and tests.
"""

from keras_seg.models import dilation, discriminators, fc_densenet, fcn, segnet, unet
from keras_seg.models.base import SegmentationModel

__all__ = ["SegmentationModel", "dilation", "discriminators", "fc_densenet", "fcn", "segnet",
           "unet"]
