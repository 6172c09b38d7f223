"""The LaTeX output compiles to a PDF: formulas, tables and all.

Needs ``latexmk`` and TeX Live (``texlive-latex-extra``, installed by
``.ci/run``); skipped locally without them, failed in CI.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.tools import require

REPO = Path(__file__).resolve().parent.parent


def _require() -> None:
    require("PDF test", [tool for tool in ("latexmk", "pdflatex") if shutil.which(tool) is None])


@pytest.mark.parametrize("root", ["test-options", "test-myst", "test-output-nested"])
def test_latex_output_compiles_to_pdf(tmp_path, root):
    _compile(tmp_path, root)


# Every documented paramcount_thousands_sep ("" is none).
SEPARATORS = [",", "_", " ", "\u202f", "'", ".", ""]


@pytest.mark.parametrize("sep", SEPARATORS, ids=["comma", "underscore", "space", "nnbsp", "quote", "dot", "none"])
def test_odd_names_and_every_separator_compile_to_pdf(tmp_path, sep):
    """Parameter names with ``% # & $ { } ~ ^ \\ _``, with each separator in math and text."""
    tex = _compile(tmp_path, "test-output-names", "-D", f"paramcount_thousands_sep={sep}")
    assert r"|\mathtt{50\%}|" in tex


def _compile(tmp_path: Path, root: str, *options: str) -> str:
    """Build ``root`` with the LaTeX builder and compile it; the LaTeX written."""
    _require()
    out = tmp_path / "latex"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO / "ext"), str(REPO)]))
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "sphinx",
            "-b",
            "latex",
            "-q",
            "-d",
            str(tmp_path / "doctrees"),
            *options,
            str(REPO / "tests" / "roots" / root),
            str(out),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr
    pdf = subprocess.run(
        ["make", "-C", str(out), "LATEXMKOPTS=-interaction=nonstopmode -halt-on-error"],
        capture_output=True,
        text=True,
        errors="replace",  # TeX's log may hold bytes of an 8-bit font encoding
        timeout=600,
    )
    log = "\n".join(p.read_text(errors="replace") for p in out.glob("*.log"))
    assert pdf.returncode == 0, pdf.stdout[-3000:] + log[-3000:]
    assert list(out.glob("*.pdf"))
    # No LaTeX error was passed over on the way, and no character went missing.
    assert "! " not in log
    assert "Undefined control sequence" not in log
    assert "Missing character" not in log
    return "\n".join(p.read_text() for p in out.glob("*.tex"))


def test_names_with_unicode_spaces_compile_to_pdf_whatever_the_separator(tmp_path):
    """A narrow no-break space in a name, not only in paramcount_thousands_sep, is declared for pdflatex."""
    tex = _compile(tmp_path, "test-output-unicode-space")
    assert "\u202f" in tex and "DeclareUnicodeCharacter{202F}" in tex
