"""The data-parallel test's one-process side: the reference run, then a resumption.

Usage: KERAS_BACKEND=jax python train_data_parallel.py ARGV_JSON REFERENCE_DIR CLUSTER_DIR

ARGV_JSON: the ``keras-seg train`` arguments the cluster's processes run (without
``--checkpoint-dir``). This process runs them alone into REFERENCE_DIR, prints a line, then
waits for a line on stdin (the cluster has finished into CLUSTER_DIR); it prints as JSON the
largest difference between the two runs' weights and both runs' logs, then resumes
CLUSTER_DIR alone for one more epoch and prints its state as JSON.
"""

import json
import sys

import keras
import numpy as np

from keras_seg.cli.app import main
from keras_seg.training.checkpoints import read_state

argv, reference, cluster = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
assert keras.backend.backend() == "jax"
assert main([*argv, "--checkpoint-dir", reference]) == 0
print("reference trained", flush=True)
sys.stdin.readline()

runs = [read_state(reference), read_state(cluster)]
weights = [keras.saving.load_model(f"{folder}/{state['last']}").get_weights()
           for folder, state in zip((reference, cluster), runs)]
difference = max(float(np.max(np.abs(a - b))) for a, b in zip(*weights))
print(json.dumps({"difference": difference, "logs": [state["logs"] for state in runs]}),
      flush=True)

epochs = str(runs[1]["epoch"] + 1)
assert main([*argv, "--checkpoint-dir", cluster, "--resume", "--epochs", epochs]) == 0
print(json.dumps(read_state(cluster)), flush=True)
