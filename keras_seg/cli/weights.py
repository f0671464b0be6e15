"""``keras-seg weights list|fetch``: the published weights, fetched and converted into the cache.

Example:
    >>> main(["weights", "fetch", "fcn8s",
    ...       "--from", "fcn8s-heavy-pascal.caffemodel"])  # doctest: +SKIP
"""

import os
import sys

from keras_seg.errors import InputError

NAME = "weights"
HELP = "list, or fetch and convert, published weights"


def add_arguments(sub):
    """``list``, and ``fetch NAME [--from FILE | --url URL]``."""
    actions = sub.add_subparsers(dest="action", metavar="ACTION", required=True)
    actions.add_parser("list", help="the published weights, where they come from and the "
                                    "scores their papers report")
    fetch = actions.add_parser(
        "fetch", help="download (or take --from a file), verify and convert into the cache")
    fetch.add_argument("name", help="a weights record, or a model meaning its default record")
    origin = fetch.add_mutually_exclusive_group()
    origin.add_argument("--from", dest="source", metavar="FILE",
                        help="a copy of the published file, downloaded by other means")
    origin.add_argument("--url", help="another origin for the same file (mirror, file://)")


def check(args):
    """Refuse a ``--from`` file that is not there."""
    if args.action == "fetch" and args.source is not None and not os.path.isfile(args.source):
        raise InputError(f"--from {args.source}: no such file")


def run(args):
    """List the records, or fetch one."""
    from keras_seg import pretrained
    from keras_seg.published import summary
    from keras_seg.registry import get_weights_record, list_weights

    if args.action == "list":
        print(f"weights cache: {pretrained.cache_dir()}")
        for record in list_weights().values():
            state = "converted" if pretrained.is_converted(record.name) else "not fetched"
            print(f"{record.name:24s} {record.format:10s} {state:11s} {record.url}\n"
                  f"{'':24s} license: {record.license}\n"
                  f"{'':24s} published: {summary(record)}")
        return
    record = get_weights_record(args.name)
    if "non-commercial" in record.license.lower() or "by-nc" in record.license.lower():
        print(f"note: {record.name} is licensed {record.license}", file=sys.stderr)
    out = pretrained.fetch(args.name, url=args.url, source=args.source)
    print(f"wrote {out}")
