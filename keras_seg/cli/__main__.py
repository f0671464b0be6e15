"""``python -m keras_seg.cli``: the ``keras-seg`` command."""

import sys

from keras_seg.cli.app import main

sys.exit(main())
