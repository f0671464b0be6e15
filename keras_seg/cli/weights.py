"""``keras-seg weights list|fetch|export``: published weights, converted into the cache, shared.

Example:
    >>> main(["weights", "fetch", "fcn8s",
    ...       "--from", "fcn8s-heavy-pascal.caffemodel"])  # doctest: +SKIP
    >>> main(["weights", "export", "fcn8s", "--out", "presets/fcn8s",
    ...       "--accept-license"])  # doctest: +SKIP
"""

import os
import sys

from keras_seg.errors import InputError

NAME = "weights"
HELP = "list, fetch and convert, or export as a shareable preset, published weights"


def add_arguments(sub):
    """``list``, ``fetch NAME [--from FILE | --url URL]``, ``export NAME --out DIR``."""
    actions = sub.add_subparsers(dest="action", metavar="ACTION", required=True)
    actions.add_parser("list", help="the published weights, where they come from and the "
                                    "scores their papers report")
    fetch = actions.add_parser(
        "fetch", help="download (or take --from a file), verify and convert into the cache")
    fetch.add_argument("name", help="a weights record, or a model meaning its default record")
    origin = fetch.add_mutually_exclusive_group()
    origin.add_argument("--from", dest="source", metavar="FILE",
                        help="a copy of the published file, downloaded by other means")
    origin.add_argument("--url", help="another origin for the same file (mirror, file://); "
                        "the only one tried ($KERAS_SEG_MIRROR puts a mirror first instead)")
    export = actions.add_parser(
        "export", help="write converted weights as a preset folder (config.json + "
                       "model.weights.h5) that build(DIR), hf:// and predict DIR load")
    export.add_argument("name", help="a converted weights record, or a model meaning its "
                                     "default record")
    export.add_argument("--out", required=True, metavar="DIR", help="the preset folder")
    export.add_argument("--accept-license", action="store_true",
                        help="export although the licence does not let others redistribute "
                             "the weights (for your own or your organisation's use)")


def check(args):
    """Refuse a ``--from`` file that is not there, an ``--out`` that is a file."""
    if args.action == "fetch" and args.source is not None and not os.path.isfile(args.source):
        raise InputError(f"--from {args.source}: no such file")
    if args.action == "export" and os.path.exists(args.out) and not os.path.isdir(args.out):
        raise InputError(f"--out {args.out}: a file, not a folder")


def run(args):
    """List the records, or fetch one."""
    from keras_seg import pretrained
    from keras_seg.published import summary
    from keras_seg.registry import get_weights_record, list_weights

    if args.action == "list":
        print(f"weights cache: {pretrained.cache_dir()}")
        for record in list_weights().values():
            state = "converted" if pretrained.is_converted(record.name) else "not fetched"
            mirrors = f" (+{len(record.mirrors)} mirrors)" if record.mirrors else ""
            print(f"{record.name:24s} {record.format:10s} {state:11s} {record.url}{mirrors}\n"
                  f"{'':24s} license: {record.license}\n"
                  f"{'':24s} published: {summary(record)}")
        return
    if args.action == "export":
        from keras_seg.presets import export_preset

        out = export_preset(args.name, args.out, accept_license=args.accept_license)
        print(f"wrote {out} (license: {get_weights_record(args.name).license}); load it with "
              f"keras_seg.build({str(out)!r}) or `keras-seg predict {out} IMAGE`")
        return
    record = get_weights_record(args.name)
    if "non-commercial" in record.license.lower() or "by-nc" in record.license.lower():
        print(f"note: {record.name} is licensed {record.license}", file=sys.stderr)
    out = pretrained.fetch(args.name, url=args.url, source=args.source)
    print(f"wrote {out}")
