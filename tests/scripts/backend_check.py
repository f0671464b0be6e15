"""Run the networks, a short training and a prediction under this process's Keras backend.

Usage: KERAS_BACKEND=jax|torch python backend_check.py CASES.json WORK_DIR

``CASES.json`` maps registered names to builder arguments; ``WORK_DIR`` holds, per name,
``NAME.weights.h5`` and ``NAME-input.npy`` written under TensorFlow. Per network: build,
load the weights, run (``predict_on_batch``: compiled under JAX) into ``NAME-output.npy``,
and for the networks that ``reloaded.json`` beside it lists save as ``.keras``, reload and
run again into ``NAME-reloaded.npy``; where an
``NAME-image.npy`` is given, ``keras_seg.predict`` on it into ``NAME-probabilities.npy``;
FCN-8s exported to ONNX and run by ONNX Runtime into ``fcn8s-onnx.npy``. Then ``train()`` of a
narrow SegNet-Basic for three epochs on generated shapes and ``keras_seg.predict`` with the
result; then what needs TensorFlow (adversarial training, ``strategy``, a TFLite export),
which must refuse with the reason. Prints one JSON object per line.
"""

import json
import sys
import time
from pathlib import Path

import keras
import numpy as np

import keras_seg
from keras_seg.errors import InputError
from keras_seg.export import check_dependencies
from keras_seg.samples import write_shapes_dataset
from keras_seg.training.trainer import train


def report(**values):
    print(json.dumps(values), flush=True)


cases = json.loads(Path(sys.argv[1]).read_text())
#: The networks saved and reloaded (``reloaded.json`` beside ``CASES.json``).
RELOADED = json.loads((Path(sys.argv[1]).parent / "reloaded.json").read_text())
work = Path(sys.argv[2])
backend = keras.backend.backend()
report(backend=backend)
for name, arguments in cases.items():
    start = time.perf_counter()
    model = keras_seg.build(name, **arguments)
    model.load_weights(work / f"{name}.weights.h5")
    x = np.load(work / f"{name}-input.npy")
    np.save(work / f"{name}-output.npy", model.predict_on_batch(x))
    if name in RELOADED:  # one network per builder: a reload compiles (XLA) once more
        model.save(work / f"{name}-{backend}.keras")
        restored = keras.saving.load_model(work / f"{name}-{backend}.keras")
        np.save(work / f"{name}-reloaded.npy", restored.predict_on_batch(x))
    if (work / f"{name}-image.npy").exists():  # the prediction pipeline, uint8 RGB in
        _, probabilities = keras_seg.predict(model, np.load(work / f"{name}-image.npy"),
                                             return_probabilities=True)
        np.save(work / f"{name}-probabilities.npy", probabilities)
    if name == "fcn8s":  # the ONNX writer reads the layers, whatever the backend
        import onnxruntime

        from keras_seg.export import export_model

        export_model(model, work / f"{name}.onnx")
        session = onnxruntime.InferenceSession(work / f"{name}.onnx")
        np.save(work / f"{name}-onnx.npy",
                session.run(None, {session.get_inputs()[0].name: x})[0])
    report(network=name, seconds=round(time.perf_counter() - start, 1))

write_shapes_dataset(work / "shapes", 8, 48, 48, seed=1)
settings = dict(num_classes=4, crop_size=(48, 48), batch_size=4, epochs=3, verbose=0,
                model_args={"width": 4}, tensorboard=False, learning_rate=3e-3)
model, history = train("segnet_basic", work / "shapes", checkpoint_dir=work / "run", **settings)
image = np.random.default_rng(0).integers(0, 256, (61, 70, 3), dtype=np.uint8)
labels = keras_seg.predict(model, image)
report(loss=history.history["loss"], labels=list(labels.shape),
       classes=sorted(int(c) for c in np.unique(labels)))
refusals = {}  # what needs TensorFlow must say so, before any work
for what, run in (
        ("adversarial", lambda: train("segnet_basic", work / "shapes", adversarial="basic",
                                      checkpoint_dir=work / "adversarial", **settings)),
        ("strategy", lambda: train("segnet_basic", work / "shapes", strategy="mirrored",
                                   checkpoint_dir=work / "mirrored", **settings)),
        ("tflite", lambda: check_dependencies("tflite"))):
    try:
        run()
        refusals[what] = "ran"
    except (InputError, ValueError) as error:
        refusals[what] = str(error)
report(refusals=refusals, folders=sorted(p.name for p in work.iterdir() if p.is_dir()))
