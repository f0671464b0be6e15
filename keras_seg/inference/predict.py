"""The one-call prediction pipeline: image in, label map out."""

import warnings
from dataclasses import dataclass

import numpy as np

from keras_seg.errors import InputError
from keras_seg.images import as_rgb_uint8
from keras_seg.inference.forward import check_precision, compiled_forward, model_cache
from keras_seg.inference.preprocess import input_convention
from keras_seg.inference.tiling import Tiling, predict_tiled
from keras_seg.input_conventions import InputConvention
from keras_seg.registry import spec_of, unwrap


def predict(name_or_model, image, *, weights=None, preprocess=None, num_classes=None,
            return_probabilities=False, batch_size=1, progress=False, tile_size=None,
            overlap=0.25, blend="gaussian", tta=None, memory_budget=None, mc_samples=None,
            return_uncertainty=False, precision="float32"):
    """Segment one RGB image the way the original release does, or with blended tiles.

    Without ``tile_size``, FCN runs on the whole image at once (tiled automatically when
    that would need more than ``memory_budget``), U-Net uses the paper's overlap-tile
    strategy (mirrored borders, tiles of a valid size, at most its 572-pixel deploy tile)
    and DilatedNet follows fyu/dilation:
    186-pixel reflect-101 margin, deploy-size tiles, softmax, bilinear zoom by 8 (not for
    Cityscapes). With ``tile_size``, :func:`keras_seg.predict_tiled` runs with the model's
    geometry, blending overlapping tiles in probability space (and DilatedNet's zoom after
    it): bounded memory for images of any size.

    Every pipeline runs the network as a compiled graph cached on the model (one per tile
    shape; one for whole frames of any size), with the input convention and the softmax
    inside it (see :func:`~keras_seg.inference.forward.compiled_forward`): a second image,
    or a second call, does not trace again.

    Args:
        name_or_model: a registered name (its published weights, converted in the Keras
            cache, are used; see ``keras-seg weights fetch``), or a model: one built by
            keras-seg (also renamed, changed or reloaded) is used as it is; any other Keras
            model needs ``preprocess`` and ``num_classes``.
        image: (H, W, 3) uint8 RGB (grayscale, RGBA and 16-bit are converted with a warning).
        weights: a weights file or record to load first (any :func:`keras_seg.build` takes).
        preprocess: an :class:`~keras_seg.input_conventions.InputConvention` or a function from
            (H, W, 3) uint8 RGB to the model's input; default: the model's own.
        num_classes: classes of a model keras-seg did not build (checked against its output).
        return_probabilities: also return the (H, W, C) class probabilities.
        batch_size: tiles per forward pass (tiled pipelines).
        progress: show a progress bar over the tiles.
        tile_size: int or (h, w) input tile for blended tiling (None: the original pipeline).
        overlap: tile overlap for blended tiling, in [0, 1).
        blend: ``"gaussian"``, ``"cosine"`` or ``"constant"``.
        tta: None, ``"flips"`` or ``"dihedral"`` test-time augmentation.
        memory_budget: bytes a whole-frame forward may use before it is tiled (default
            :data:`~keras_seg.inference.memory.DEFAULT_BUDGET`, 4 GiB).
        mc_samples: Monte Carlo dropout samples (Bayesian SegNet): the probabilities are
            the mean of this many forwards with dropout active.
        return_uncertainty: with ``mc_samples``, also return the (H, W) uncertainty: the
            mean over classes of the samples' variance.
        precision: ``"float32"``, or ``"bfloat16"`` to compute in bfloat16 under Keras's
            ``mixed_bfloat16`` policy (also for a model built in float32; its variables
            stay float32, the probabilities are float32). Faster on CPUs with AVX512-BF16 or
            AMX and on recent GPUs; see benchmarks/precision.py for speed and label
            agreement with float32 per network.

    Returns:
        (H, W) int32 labels; a :class:`Prediction` (labels, probabilities, uncertainty)
        where ``return_probabilities`` or ``return_uncertainty`` asks for more.

    Raises:
        InputError: a registered name whose weights are not in the cache.

    Example:
        >>> labels = keras_seg.predict("dilation8_camvid", image)  # doctest: +SKIP
        >>> labels = keras_seg.predict(keras_seg.build("fcn8s", context=False),
        ...                            image, precision="bfloat16")  # doctest: +SKIP
    """
    from keras_seg.pretrained import build

    check_precision(precision)
    if isinstance(name_or_model, str):
        model = build(name_or_model, weights=weights or _cached_default(name_or_model))
    else:
        model = unwrap(name_or_model)  # an adversarial trainer: its segmenter
        if weights is not None:
            from keras_seg.convert.load import load_weights

            load_weights(model, weights)
    spec = spec_of(model)
    convert = preprocess if preprocess is not None else input_convention(model)
    if spec is None and num_classes is None:
        raise ValueError("num_classes= is needed for a model keras-seg did not build")
    if num_classes is not None and model.output_shape[-1] != num_classes:
        raise ValueError(f"the model gives {model.output_shape[-1]} classes, not {num_classes}")
    # an input convention runs inside the compiled forward, on the RGB pixels (reflected
    # borders of tiles commute with it); any other function converts the image here
    fused = isinstance(convert, InputConvention)
    rgb = _rgb(image, convert)
    x = rgb if fused else np.asarray(convert(rgb), np.float32)
    pipeline = spec.pipeline if spec else "whole"
    geometry = spec.geometry.as_tuple() if spec else None
    if tile_size is None and pipeline == "whole":
        tile_size = _tile_if_too_large(model, x.shape[:2], memory_budget, geometry)
    elif tile_size is None and pipeline == "overlap_tile":  # U-Net: valid tiles, mirrored
        tile_size = tuple(min(cap, spec.valid_size(n + 2 * spec.geometry.margin))
                          for n, cap in zip(x.shape[:2], spec.tile_size))
    if tile_size is not None and spec is not None:
        tile_size = fit_tile(tile_size, x.shape[:2], spec, square=tta == "dihedral")
    tiling = None if tile_size is None else Tiling(
        tile_size, overlap=overlap, batch_size=batch_size, blend=blend, tta=tta,
        geometry=geometry)
    run = _Pipeline(spec, tiling, batch_size, progress, convert if fused else None, precision)
    if return_uncertainty and not mc_samples:
        raise ValueError("return_uncertainty needs mc_samples (Monte Carlo dropout)")
    if mc_samples:
        probabilities, uncertainty = _monte_carlo(model, x, run, mc_samples)
    else:
        probabilities, uncertainty = run.probabilities(model, x), None
    labels = np.argmax(probabilities, axis=-1).astype(np.int32)
    if not (return_probabilities or return_uncertainty):
        return labels
    return Prediction(labels, probabilities if return_probabilities else None,
                      uncertainty if return_uncertainty else None)


@dataclass(frozen=True)
class Prediction:
    """What :func:`predict` gives when more than the labels is asked for.

    For the code written when ``predict`` returned tuples, it also unpacks as one: the
    labels, then the probabilities and the uncertainty where they were asked for.

    Attributes:
        labels: (H, W) int32 class indices.
        probabilities: (H, W, C) float32 class probabilities, or None (not asked).
        uncertainty: (H, W) Monte Carlo dropout uncertainty, or None (not asked).

    Example:
        >>> result = keras_seg.predict(model, image, return_probabilities=True)  # doctest: +SKIP
        >>> result.probabilities.shape  # doctest: +SKIP
        (360, 480, 11)
    """

    labels: np.ndarray
    probabilities: np.ndarray | None = None
    uncertainty: np.ndarray | None = None

    def __iter__(self):
        yield self.labels
        yield from (value for value in (self.probabilities, self.uncertainty)
                    if value is not None)

    def __getitem__(self, index):
        return tuple(self)[index]


@dataclass(frozen=True)
class _Pipeline:
    """How one image's probabilities are computed: the release's pipeline or blended tiles.

    ``preprocess`` is the input convention run inside the compiled forward on RGB pixels, or
    None when the image already is the network's input.
    """

    spec: object
    tiling: object
    batch_size: int
    progress: bool
    preprocess: object
    precision: str

    def probabilities(self, model, x):
        """Class probabilities of one image ``x`` (RGB pixels, or the network's input)."""
        if self.tiling is not None:
            from keras_seg.inference.deploy_tiles import interp_map

            probabilities = predict_tiled(
                model, x, self.tiling, activation="softmax", progress=self.progress,
                preprocess=self.preprocess, precision=self.precision)
            zoom = self.spec.zoom if self.spec else 1
            if zoom > 1:
                probabilities = interp_map(probabilities, zoom, *x.shape[:2])
            return probabilities
        if self.spec is not None and self.spec.pipeline == "dilation_tiles":
            from keras_seg.inference.deploy_tiles import predict_deploy_tiles

            return predict_deploy_tiles(model, self.spec, x, batch_size=self.batch_size,
                                        progress=self.progress, preprocess=self.preprocess,
                                        precision=self.precision)
        forward = whole_frame_forward(model, x.dtype, self.preprocess, self.precision)
        return np.asarray(forward(x[None]))[0]


def _monte_carlo(model, x, run, samples):
    """Monte Carlo dropout (Bayesian SegNet): the samples' mean and the mean variance.

    Returns the mean of ``samples`` probability maps with dropout active, and the mean over
    classes of their variance as the uncertainty.
    """
    cache = model_cache(model)
    if "mc_sampler" not in cache:  # kept, with its compiled graphs, for the next call
        cache["mc_sampler"] = mc_dropout_model(model)
    sampler = cache["mc_sampler"]
    probabilities = spread = None  # Welford's running mean and sum of squared deviations
    for n in range(1, samples + 1):
        sample = run.probabilities(sampler, x)
        if probabilities is None:
            probabilities, spread = sample.copy(), np.zeros_like(sample)
            continue
        delta = sample - probabilities
        probabilities += delta / n
        spread += delta * (sample - probabilities)
    return probabilities, (spread / samples).mean(axis=-1)


def whole_frame_forward(model, dtype, preprocess, precision):
    """The compiled forward of whole frames: batches of any size, softmax probabilities.

    Args:
        model: a Keras model.
        dtype: dtype of the batches (uint8 RGB pixels with ``preprocess``).
        preprocess: an :class:`~keras_seg.input_conventions.InputConvention` run inside the
            graph, or None (the batches are the network's input).
        precision: ``"float32"`` or ``"bfloat16"``.

    Example:
        >>> forward = whole_frame_forward(model, "uint8", input_convention(model),
        ...                               "float32")  # doctest: +SKIP
    """
    channels = 3 if preprocess is not None else model.input_shape[-1]
    return compiled_forward(model, input_shape=(None, None, None, channels), input_dtype=dtype,
                            preprocess=preprocess, precision=precision)


def mc_dropout_model(model):
    """A model sharing ``model``'s layers whose dropout layers stay active at inference.

    Monte Carlo dropout (Gal & Ghahramani 2016) as Bayesian SegNet samples it: every other
    layer, batch normalisation included, keeps its inference behaviour.

    Raises:
        ValueError: the model has no dropout layer.

    Example:
        >>> sampler = mc_dropout_model(keras_seg.build("bayesian_segnet"))  # doctest: +SKIP
    """
    import keras

    from keras_seg.layers import SamplingDropout

    if not any(isinstance(layer, keras.layers.Dropout) for layer in model.layers):
        raise InputError(f"{model.name} has no dropout layer to sample (mc_samples needs one, "
                         "as the Bayesian SegNets have)")

    def clone(layer):
        if isinstance(layer, keras.layers.Dropout):
            return SamplingDropout(layer.rate, seed=layer.seed, name=layer.name)
        return layer  # shared: the same weights

    return keras.models.clone_model(model, clone_function=clone)


def _rgb(image, convert):
    """The image as RGB uint8; for one-channel networks, say what the conversion means."""
    image = np.asarray(image)
    gray_network = getattr(convert, "channels", 3) == 1
    if gray_network:
        with warnings.catch_warnings():  # gray in, gray out: no note about RGB
            warnings.filterwarnings("ignore", "grayscale image converted to RGB")
            rgb = as_rgb_uint8(image)
        if image.ndim == 3 and image.shape[-1] >= 3:
            warnings.warn("colour image converted to grayscale for a one-channel network",
                          stacklevel=3)
        return rgb
    return as_rgb_uint8(image)


def _cached_default(name):
    from keras_seg.pretrained import is_converted, missing_weights_error
    from keras_seg.registry import get_spec

    record = get_spec(name).default_weights
    if record and is_converted(record):
        return record
    raise missing_weights_error(name)


def smallest_tile(spec):
    """The smallest tile side a registered network can be tiled with.

    A tile must keep at least one alignment step of output pixels past the network's
    context margins (``2 * margin + alignment`` input pixels), rounded up to a valid size.

    Example:
        >>> smallest_tile(get_spec("fcn8s")), smallest_tile(get_spec("unet"))  # doctest: +SKIP
        (32, 204)
    """
    margin, _, alignment = spec.geometry.as_tuple()
    return spec.valid_size(2 * margin + alignment)


def fit_tile(tile_size, image_size, spec, square=False):
    """A tile shrunk, side by side, to the smallest one that covers the image.

    A tile larger than the image would be padded (memory and time for nothing): each side
    longer than ``2 * margin`` plus the image side rounded up to the alignment becomes
    that, then a valid size of the network.

    Args:
        tile_size: int or (h, w), the tile asked for.
        image_size: (height, width) of the image.
        spec: the network's :class:`~keras_seg.registry.ModelSpec`.
        square: keep the tile square (dihedral test-time augmentation transposes tiles).

    Returns:
        (h, w), each side at most the one asked for.

    Example:
        >>> fit_tile(100000, (512, 600), get_spec("fcn8s"))  # doctest: +SKIP
        (512, 608)
    """
    tile = (tile_size, tile_size) if isinstance(tile_size, int) else tuple(tile_size)
    margin, _, alignment = spec.geometry.as_tuple()
    covering = [spec.valid_size(2 * margin + -(-length // alignment) * alignment)
                for length in image_size]
    if square:
        covering = [max(covering)] * 2
    return tuple(min(side, cover) for side, cover in zip(tile, covering))


def _tile_if_too_large(model, size, budget, geometry):
    from keras_seg.inference.memory import (
        DEFAULT_BUDGET,
        forward_bytes,
        human_bytes,
        tile_for_budget,
    )

    budget = budget or DEFAULT_BUDGET
    alignment = geometry[2] if geometry else 1
    tile = tile_for_budget(model, *size, budget=budget, alignment=alignment)
    if tile is not None:
        need = human_bytes(forward_bytes(model, *size))
        warnings.warn(f"a whole-frame forward of this {size[1]}x{size[0]} image would need "
                      f"about {need} (memory budget {human_bytes(budget)}): predicting in "
                      f"blended {tile}-pixel tiles instead", stacklevel=3)
    return tile
