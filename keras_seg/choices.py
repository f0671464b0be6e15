"""The choice lists of training, written once (light: the command line reads them early).

The modules that act on a choice (recipes, layouts, adversaries, strategies) import their
list from here, and :class:`~keras_seg.training.config.TrainConfig` checks settings
against the same lists before TensorFlow loads.

Example:
    >>> "adamw" in OPTIMIZERS
    True
"""

#: Optimizers of a :class:`~keras_seg.training.recipes.Recipe`.
OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop")
#: Learning-rate schedules of a recipe.
SCHEDULES = ("poly", "cosine", "constant")
#: On-disk dataset layouts (:func:`~keras_seg.training.layouts.open_dataset`).
LAYOUTS = ("folder", "voc", "camvid", "cityscapes", "labelme", "coco")
#: What the adversary sees besides the labels (Luc et al. 2016): its input kinds.
ADVERSARIAL_MODES = ("basic", "product", "scaling")
#: Adversaries of :func:`~keras_seg.models.discriminators.build_adversary`.
ADVERSARY_MODELS = ("stanford_background", "large_fov", "large_fov_light", "small_fov",
                    "small_fov_light")
#: Distribution strategies (None: one device).
STRATEGIES = ("mirrored", "multiworker")
#: Keras's own distributions (``keras.distribution``, under the JAX backend; None: none).
DISTRIBUTIONS = ("data-parallel",)
#: Class weights computed from the masks (besides an explicit list).
CLASS_WEIGHT_MODES = ("median",)
#: Training losses (:func:`~keras_seg.training.losses.make_loss`); a run may sum several
#: (``"ce+dice"``). ``ce`` is the cross-entropy that skips the ignore label.
LOSSES = ("ce", "dice", "focal", "lovasz", "tversky")
#: The parameters a loss setting may give each loss (``focal:gamma=3``,
#: ``tversky:alpha=0.3,beta=0.7``); the others take none.
LOSS_PARAMETERS = {"focal": ("gamma", "alpha"), "tversky": ("alpha", "beta", "gamma")}
#: The losses that take no class weights (Lovasz-Softmax has no per-class weighting).
LOSSES_WITHOUT_CLASS_WEIGHTS = ("lovasz",)
#: The losses that take a pixel-wise weight map (U-Net's): the others are one value for the
#: whole batch.
PIXEL_WEIGHTED_LOSSES = ("ce",)
#: The label value that loss, metrics and evaluation leave out (PASCAL VOC's "void").
IGNORE_LABEL = 255
#: The splits a layout is read from: for training and for validation or evaluation.
TRAIN_SPLIT, VAL_SPLIT = "train", "val"
#: What saved label maps hold (``keras-seg evaluate --predictions``): ``train``, class
#: indices 0..N-1 (what ``keras-seg predict`` writes); ``label``, the values the dataset's
#: masks store, read through the layout's label map (Cityscapes label ids).
PREDICTION_IDS = ("train", "label")
#: The layouts whose saved label maps hold label ids unless told otherwise: the Cityscapes
#: benchmark takes label ids.
LABEL_ID_LAYOUTS = ("cityscapes",)
