"""``sphinx-paramcount TARGET``: the derivation in the terminal.

Exit status: 0 success, 1 the model could not be built or counted, 2 a bad
target or bad usage.  Errors are one or two lines on stderr; ``--traceback``
shows the Python traceback for those who want it.
"""

from __future__ import annotations

import argparse
import functools
import os
import shutil
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import TypeVar

from . import __version__
from .errors import ImportTargetError, OptionError, ParamcountError, TargetError
from .options import DEVICES, parse_depth, parse_root
from .report import Report, Row
from .shapes import parse_input_dtype

T = TypeVar("T")

FORMATS = ("text", "markdown", "json", "derivation", "total")

# A bad target or usage is the caller's to fix (2); a model that cannot be built is 1.
_USAGE_ERRORS = (TargetError, ImportTargetError, OptionError)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="sphinx-paramcount",
        description="Count a PyTorch model's parameters and show the derivation of every count.",
        epilog="TARGET is 'pkg.mod:Name', 'pkg.mod.Name' or a call such as "
        "'torch.nn.Conv2d(16, 8, kernel_size=3, padding=1)'. "
        "'sphinx-paramcount update DOCS [--write|--check]' updates the stated counts the docs build checks.",
    )
    p.add_argument("target", help="the model to count")
    p.add_argument("--format", "-f", choices=FORMATS, default="text", help="output format (default: text)")
    p.add_argument("--depth", type=_argument(parse_depth), default=None, help="collapse rows below this depth")
    p.add_argument(
        "--root",
        type=_argument(parse_root),
        default=None,
        help="start the table at this sub-module, e.g. base_model.model",
    )
    p.add_argument("--device", choices=DEVICES, default="meta", help="where to build (default: meta)")
    p.add_argument(
        "--input-shape", default=None, help="run one forward pass on meta tensors of this shape, e.g. '1, 3, 32, 32'"
    )
    p.add_argument(
        "--compute",
        action="store_true",
        help="count the multiply-accumulates (MACs) of one forward pass instead of parameters (needs --input-shape); "
        "--depth, --root and --expand-repeats apply as for parameters",
    )
    p.add_argument(
        "--input-dtype",
        type=_argument(parse_input_dtype),
        default=None,  # None: not given, so that given without --input-shape it is an error, not ignored
        help="the input tensor's dtype for --input-shape (default: float32; int64 for token ids)",
    )
    p.add_argument("--expand-repeats", action="store_true", help="show every block of a repeated stack, not one")
    p.add_argument(
        "--symbols",
        default=None,
        help="the model's hyperparameters, e.g. 'd=4096, d_ff=11008, V=32000, L=32' (or 'config'): "
        "formulas are written in them, and the whole model's",
    )
    p.add_argument(
        "--formula",
        default=None,
        help="a closed form in the symbols to check, e.g. '12*L*d**2 + 2*V*d' ('~ ...' for an estimate); "
        "exit status 1 if it does not hold",
    )
    p.add_argument("--tolerance", default=None, help="how far an estimated --formula '~ ...' may be off (default 10%%)")
    p.add_argument(
        "--conf",
        metavar="PATH",
        default=None,
        help="a Sphinx conf.py (or its folder) to run first, for its sys.path and paramcount_formulas",
    )
    p.add_argument("--traceback", action="store_true", help="show the Python traceback of an error")
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return p


def _argument(parse: Callable[[str], T]) -> Callable[[str], T]:
    """One of the directive's option parsers as an argparse type: the same rules, argparse's message."""

    def convert(text: str) -> T:
        try:
            return parse(text)
        except OptionError as exc:
            raise argparse.ArgumentTypeError(exc.message) from None

    convert.__name__ = parse.__name__
    return convert


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["update"]:
        from .update import main as update_main

        return update_main(argv[1:])
    args = _parser().parse_args(argv)
    if args.input_dtype is not None and args.input_shape is None:
        print("sphinx-paramcount: error: --input-dtype needs --input-shape, e.g. --input-shape 1,1024", file=sys.stderr)
        return 2
    args.input_dtype = args.input_dtype or "float32"
    # Like ``python -m``, let targets name modules in the current directory.
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    if args.conf is not None and (failed := _run_conf(args.conf, args.traceback)) is not None:
        return failed
    if args.compute:
        return _compute(args)
    from . import render
    from .api import explain
    from .shapes import parse_input_shape

    try:
        shape = parse_input_shape(args.input_shape) if args.input_shape is not None else None
        report = explain(
            args.target,
            device=args.device,
            input_shape=shape,
            input_dtype=args.input_dtype,
            root=args.root or "",
            depth=args.depth,
            expand_repeats=args.expand_repeats,
            compute=False,
            symbols=args.symbols,
        )
        if args.formula is not None and args.symbols is None:
            raise OptionError("--formula needs --symbols, the symbols it is written in")
        if args.tolerance is not None and args.formula is None:
            raise OptionError("--tolerance needs --formula, the estimate it applies to")
    except ParamcountError as exc:
        return _error(exc, args.traceback)
    rows = report.shown_rows
    width = shutil.get_terminal_size().columns if sys.stdout.isatty() else render.TEXT_WIDTH
    writer: dict[str, Callable[[Report, list[Row]], str]] = {
        "text": functools.partial(render.to_text, width=width),
        "total": render.to_total,
        "markdown": render.to_markdown,
        "json": render.to_json,
        "derivation": render.to_derivation,
    }
    sys.stdout.write(writer[args.format](report, rows))
    for notice in report.notices:
        print(f"note: {notice}", file=sys.stderr)
    if report.symbolic is not None:
        for unused in report.symbolic.unused:
            if not unused.source:  # one the user wrote: config symbols a model does not use are no mistake
                print(f"warning: symbol {unused.name}={unused.value} matches no number of the model", file=sys.stderr)
    if args.formula is not None:
        try:
            report.check(formula=args.formula, tolerance=args.tolerance or "10%")
        except ParamcountError as exc:
            return _error(exc, args.traceback)
    return 0


def _compute(args: argparse.Namespace) -> int:
    """``--compute``: the MACs table of one forward pass, in the chosen format."""
    from .api import explain
    from .compute_render import WRITERS, to_text

    if args.input_shape is None:
        print(
            "sphinx-paramcount: error: --compute needs --input-shape, e.g. --input-shape 1,3,224,224", file=sys.stderr
        )
        return 2
    try:
        report = explain(
            args.target,
            device=args.device,
            input_shape=args.input_shape,
            input_dtype=args.input_dtype,
            root=args.root or "",
            depth=args.depth,
            expand_repeats=args.expand_repeats,
            compute=True,
        ).compute
    except ParamcountError as exc:
        return _error(exc, args.traceback)
    assert report is not None  # compute=True with an input shape
    width = shutil.get_terminal_size().columns if sys.stdout.isatty() else None
    writer = WRITERS[args.format]
    sys.stdout.write(to_text(report, width) if writer is to_text and width else writer(report))
    for notice in report.notices:
        print(f"note: {notice}", file=sys.stderr)
    return 0


def _error(exc: ParamcountError, show_traceback: bool) -> int:
    """Print ``exc`` as the command line reports errors; its exit status."""
    if show_traceback:
        traceback.print_exc()
    print(f"sphinx-paramcount: error [{exc.subtype}]: {exc.message}", file=sys.stderr)
    if exc.hint:
        print(f"  hint: {exc.hint}", file=sys.stderr)
    return 2 if isinstance(exc, _USAGE_ERRORS) else 1


def _run_conf(path: str, show_traceback: bool) -> int | None:
    """Run the project's conf.py; the exit status if it cannot be run."""
    from pathlib import Path

    from . import confpy

    conf = Path(path)
    if conf.is_dir():
        conf = conf / "conf.py"
    if not conf.is_file():
        print(f"sphinx-paramcount: error: --conf {path}: no such file", file=sys.stderr)
        return 2
    try:
        confpy.run(conf.resolve())
    except Exception as exc:
        if show_traceback:
            traceback.print_exc()
        print(f"sphinx-paramcount: error: {conf}: {type(exc).__name__}: {exc}", file=sys.stderr)
        print("  hint: it must run outside Sphinx too; --traceback shows where it failed", file=sys.stderr)
        return 2
    return None


if __name__ == "__main__":
    sys.exit(main())
