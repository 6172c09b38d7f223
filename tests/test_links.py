"""The Type cell links to the layer class's documentation: PyTorch's through intersphinx, the project's own."""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from bs4 import BeautifulSoup

from sphinx_paramcount.sphinxext.links import candidate_names

ROOTS = Path(__file__).resolve().parent / "roots"
TORCH_DOCS = "https://pytorch.org/docs/stable/"


@pytest.fixture(scope="module")
def torch_inventory(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The objects.inv of a tiny project documenting ``torch.nn.Conv2d`` where PyTorch's docs do."""
    src = tmp_path_factory.mktemp("torchdocs")
    (src / "generated").mkdir()
    (src / "conf.py").write_text('project = "torch"\n')
    (src / "index.rst").write_text("torch\n=====\n\n.. toctree::\n\n   generated/torch.nn.Conv2d\n")
    (src / "generated" / "torch.nn.Conv2d.rst").write_text(
        "Conv2d\n======\n\n.. py:class:: torch.nn.Conv2d(in_channels, out_channels, kernel_size)\n\n   A convolution.\n"
    )
    out = src / "_build"
    # In another process: a Sphinx app made here would leave its node classes registered for the tests' apps.
    subprocess.run([sys.executable, "-m", "sphinx", "-q", "-b", "html", str(src), str(out)], check=True)
    return out / "objects.inv"


def _type_cells(html: str) -> dict[str, tuple[str, str | None]]:
    """Layer name -> (Type cell text, its link or None)."""
    soup = BeautifulSoup(html, "html.parser")
    cells = {}
    for tr in soup.select("table.paramcount-table tbody tr"):
        name = tr.select_one("code.paramcount-name")
        if name is None:
            continue
        cell = tr.select_one("td.paramcount-type")
        link = cell.find("a")
        cells[name.get_text()] = (cell.get_text(" ", strip=True), link["href"] if link else None)
    return cells


def _build(make_app, tmp_path: Path, builder: str = "html", **confoverrides) -> tuple[Any, str]:
    """The app, and its warnings."""
    srcdir = tmp_path / "src"
    shutil.copytree(ROOTS / "test-links", srcdir)
    warning = io.StringIO()
    app = make_app(builder, srcdir=srcdir, freshenv=True, confoverrides=confoverrides, warning=warning)
    app.build()
    return app, warning.getvalue()


def test_type_cells_link_to_pytorch_through_intersphinx_and_to_the_project(make_app, tmp_path, torch_inventory):
    app, warnings = _build(
        make_app,
        tmp_path,
        extensions=["sphinx_paramcount", "sphinx.ext.intersphinx"],
        intersphinx_mapping={"torch": (TORCH_DOCS, str(torch_inventory))},
        nitpicky=True,
    )
    assert app.statuscode == 0
    assert warnings == ""
    cells = _type_cells((app.outdir / "sub" / "page.html").read_text())
    assert cells == {
        # Conv2d's class is torch.nn.modules.conv.Conv2d; PyTorch documents it as torch.nn.Conv2d.
        "stem": ("Conv2d(3, 4, k=3)", TORCH_DOCS + "generated/torch.nn.Conv2d.html#torch.nn.Conv2d"),
        # Block, documented on this project's index page: relative to the page in sub/.
        "block": ("Block: Linear", "../index.html#tests.models.linked.Block"),
    }
    soup = BeautifulSoup((app.outdir / "sub" / "page.html").read_text(), "html.parser")
    stem = soup.select_one("td.paramcount-type a")
    assert set(stem["class"]) == {"reference", "external", "paramcount-type-link"}
    assert stem["title"] == "torch.nn.modules.conv.Conv2d"
    # On the page that documents Block, the link is to its anchor there.
    assert _type_cells((app.outdir / "index.html").read_text())["block"] == (
        "Block: Linear",
        "#tests.models.linked.Block",
    )


def test_without_intersphinx_nitpicky_build_is_clean_and_only_the_project_links(make_app, tmp_path):
    app, warnings = _build(make_app, tmp_path, nitpicky=True)
    assert app.statuscode == 0
    assert warnings == ""
    cells = _type_cells((app.outdir / "sub" / "page.html").read_text())
    assert cells["stem"] == ("Conv2d(3, 4, k=3)", None)
    assert cells["block"] == ("Block: Linear", "../index.html#tests.models.linked.Block")


def test_latex_writes_the_link_without_a_warning(make_app, tmp_path, torch_inventory):
    app, warnings = _build(
        make_app,
        tmp_path,
        "latex",
        extensions=["sphinx_paramcount", "sphinx.ext.intersphinx"],
        intersphinx_mapping={"torch": (TORCH_DOCS, str(torch_inventory))},
        nitpicky=True,
    )
    assert app.statuscode == 0
    assert warnings == ""
    tex = next(app.outdir.glob("*.tex")).read_text()
    assert r"\sphinxhref{" + TORCH_DOCS + "generated/torch.nn.Conv2d.html\\#torch.nn.Conv2d}" in tex


@pytest.mark.parametrize(
    ("path", "names"),
    [
        (
            "torch.nn.modules.conv:Conv2d",
            ["torch.nn.modules.conv.Conv2d", "torch.nn.modules.Conv2d", "torch.nn.Conv2d", "torch.Conv2d"],
        ),
        ("pkg.mod:Outer.Inner", ["pkg.mod.Outer.Inner", "pkg.Outer.Inner"]),
        (":Cls", ["Cls"]),
        ("", []),
    ],
)
def test_candidate_names_drop_module_parts_only(path, names):
    assert candidate_names(path) == names
