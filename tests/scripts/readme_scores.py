"""Rewrite the README's table of published weights and their scores from the records.

Usage: python tests/scripts/readme_scores.py [README.md]

The table lies between the two ``published-scores`` comment lines of the README;
``tests/test_published.py`` fails while it differs from
:func:`keras_seg.published.markdown_table`, and this script brings it back in line.
"""

import sys
from pathlib import Path

from keras_seg.published import markdown_table

START, END = "<!-- published-scores: start -->", "<!-- published-scores: end -->"


def rewritten(text):
    """``text`` with the lines between START and END replaced by the current table."""
    head, rest = text.split(START + "\n", 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{markdown_table()}\n{END}{tail}"


if __name__ == "__main__":
    path = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parents[2] / "README.md")
    path.write_text(rewritten(path.read_text()))
    print(f"wrote {path}")
