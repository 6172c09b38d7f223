"""The package as a user gets it: ``python -m build`` makes an sdist and a wheel, and the
wheel, installed into a fresh venv, builds a Sphinx site and runs ``sphinx-paramcount``.

Offline and quick: the sdist and wheel are built without build isolation (the backend,
setuptools, comes from the ``test`` extra), and the fresh venv borrows torch and Sphinx
from the environment running the tests through a ``.pth`` file. A ``.pth`` file's plain
path lines are added to ``sys.path`` without running the ``.pth`` files of that directory,
so the editable install of this checkout that the running environment may hold stays out
of the fresh venv: what the venv imports as ``sphinx_paramcount`` is the wheel.

Also the install instructions: the docs install what exists (a checkout, or the wheel
built here), and the README names only files that exist.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shutil
import site
import subprocess
import sys
import sysconfig
import tarfile
import venv
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from tests.test_reliability import problems

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "ext" / "sphinx_paramcount"
CSS = PACKAGE / "static" / "paramcount.css"
VERSION = re.search(r'^version = "(.+)"$', (REPO / "pyproject.toml").read_text(), re.M)[1]  # type: ignore[index]
CONV = "torch.nn.Conv2d(16, 8, kernel_size=3, padding=1)"  # 16 * 8 * 3 * 3 + 8 = 1,160

# What a checkout has that a build must not see: VCS data, venvs, caches, build outputs.
NOT_SOURCE = shutil.ignore_patterns(
    ".*", "__pycache__", "*.pyc", "*.egg-info", "build", "dist", "_build", "node_modules"
)


def package_files() -> set[str]:
    """Every file of the package, as ``sphinx_paramcount/...``: modules, the CSS, ``py.typed``."""
    return {
        path.relative_to(PACKAGE.parent).as_posix()
        for path in PACKAGE.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }


def run(*cmd: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run a command outside this checkout: without PYTHONPATH (which may name ``ext/``) and
    without the user site, so a fresh venv imports only what it holds and what its ``.pth``
    names."""
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"}}
    env["PYTHONNOUSERSITE"] = "1"
    return subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


@dataclass(frozen=True)
class Dists:
    sdist: Path
    wheel: Path


@pytest.fixture(scope="module")
def dists(tmp_path_factory: pytest.TempPathFactory) -> Dists:
    """``python -m build`` of a copy of the checkout (a build writes ``build/`` and
    ``*.egg-info`` into its source tree): the sdist, then the wheel built from the sdist."""
    tmp = tmp_path_factory.mktemp("dists")
    src = tmp / "sphinx-paramcount"
    shutil.copytree(REPO, src, ignore=NOT_SOURCE)
    built = run(sys.executable, "-m", "build", "--no-isolation", "--outdir", tmp / "dist", src, cwd=tmp)
    assert built.returncode == 0, built.stdout + built.stderr
    (sdist,) = (tmp / "dist").glob("*.tar.gz")
    (wheel,) = (tmp / "dist").glob("*.whl")
    return Dists(sdist, wheel)


@dataclass(frozen=True)
class FreshVenv:
    root: Path
    python: Path
    site_packages: Path

    def sphinx_build(self, src: Path, out: Path) -> subprocess.CompletedProcess[str]:
        return run(self.python, "-m", "sphinx", "-b", "html", src, out, cwd=src.parent)


@pytest.fixture(scope="module")
def fresh_venv(dists: Dists, tmp_path_factory: pytest.TempPathFactory) -> FreshVenv:
    """A new venv holding the wheel, with torch and Sphinx borrowed from this environment."""
    root = tmp_path_factory.mktemp("venv") / "venv"
    venv.EnvBuilder(with_pip=False).create(root)
    python = root / "bin" / "python"
    # This environment's pip installs into the new venv (``--python``): no pip to set up there.
    # The wheel goes in before the ``.pth`` below, so pip sees no other sphinx-paramcount.
    installed = run(
        sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", dists.wheel, cwd=root
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    found = run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))", cwd=root)
    site_packages = Path(found.stdout.strip())
    lenders = [p for p in dict.fromkeys([*site.getsitepackages(), sysconfig.get_path("purelib")]) if Path(p).is_dir()]
    (site_packages / "borrowed_from_test_env.pth").write_text("".join(f"{p}\n" for p in lenders))
    return FreshVenv(root, python, site_packages)


def write_site(folder: Path, total: str) -> Path:
    """A one-page site: a Conv2d stated to have ``total`` parameters, on line 4 of index.rst."""
    folder.mkdir()
    (folder / "conf.py").write_text('extensions = ["sphinx_paramcount"]\n')
    (folder / "index.rst").write_text(f"Installed\n=========\n\n.. paramcount:: {CONV}\n   :total: {total}\n")
    return folder


# -- the archives ---------------------------------------------------------------------------


def test_sdist_holds_the_package_and_what_building_it_needs(dists: Dists) -> None:
    with tarfile.open(dists.sdist) as tar:
        members = {m.name.split("/", 1)[1] for m in tar.getmembers() if m.isfile()}
        css = tar.extractfile(f"sphinx_paramcount-{VERSION}/ext/{CSS.relative_to(PACKAGE.parent).as_posix()}")
        assert css is not None and css.read() == CSS.read_bytes()
    metadata = {m for m in members if m.startswith("ext/sphinx_paramcount.egg-info/")}
    assert "ext/sphinx_paramcount.egg-info/SOURCES.txt" in metadata
    # Exactly the package (every module, the CSS, py.typed) and the build's own files:
    # no tests (their conftest, models and roots are not shipped), docs or benchmarks.
    assert members - metadata == {f"ext/{f}" for f in package_files()} | {
        "PKG-INFO",
        "README.md",
        "LICENSE",
        "MANIFEST.in",
        "pyproject.toml",
        "setup.cfg",
    }
    # The package files are what the tests above and below count on: not a vacuous match.
    assert {"sphinx_paramcount/py.typed", "sphinx_paramcount/static/paramcount.css"} <= package_files()
    assert "sphinx_paramcount/sphinxext/directive.py" in package_files()


def test_wheel_holds_the_package_and_nothing_else(dists: Dists) -> None:
    assert dists.wheel.name == f"sphinx_paramcount-{VERSION}-py3-none-any.whl"
    with zipfile.ZipFile(dists.wheel) as whl:
        names = set(whl.namelist())
        info = f"sphinx_paramcount-{VERSION}.dist-info/"
        assert {n for n in names if not n.startswith(info)} == package_files()
        assert whl.read("sphinx_paramcount/static/paramcount.css") == CSS.read_bytes()
        entry_points = whl.read(info + "entry_points.txt").decode()
        metadata = whl.read(info + "METADATA").decode()
        licence = whl.read(info + "licenses/LICENSE").decode()
    assert "sphinx-paramcount = sphinx_paramcount.cli:main" in entry_points
    assert licence.startswith("MIT License") and "License-Expression: MIT" in metadata
    requires = re.findall(r"^Requires-Dist: ([\w-]+[^;\n]*)$", metadata, re.M)
    assert requires == ["sphinx>=7.2", "docutils>=0.20", "torch>=2.1"]


# -- the wheel at work in a fresh venv --------------------------------------------------------


def test_fresh_venv_imports_the_wheel(fresh_venv: FreshVenv) -> None:
    shown = run(
        fresh_venv.python, "-c", "import sphinx_paramcount; print(sphinx_paramcount.__file__)", cwd=fresh_venv.root
    )
    assert shown.returncode == 0, shown.stderr
    assert Path(shown.stdout.strip()) == fresh_venv.site_packages / "sphinx_paramcount" / "__init__.py"


def test_wheel_builds_a_site(fresh_venv: FreshVenv, tmp_path: Path) -> None:
    src = write_site(tmp_path / "site", "1,160")
    built = fresh_venv.sphinx_build(src, tmp_path / "html")
    assert built.returncode == 0, built.stdout + built.stderr
    assert problems(built.stderr) == []
    page = BeautifulSoup((tmp_path / "html" / "index.html").read_text(), "html.parser")
    total = page.select_one("div.paramcount tr.paramcount-total td.paramcount-count")
    assert total is not None and total.get_text(strip=True) == "1,160"
    # The CSS came out of the wheel: copied beside the page and linked from it.
    assert (tmp_path / "html" / "_static" / "paramcount.css").read_bytes() == CSS.read_bytes()
    assert page.find("link", href=re.compile(r"^_static/paramcount\.css"))


def test_wheel_fails_a_site_that_drifted(fresh_venv: FreshVenv, tmp_path: Path) -> None:
    src = write_site(tmp_path / "site", "1,000")
    built = fresh_venv.sphinx_build(src, tmp_path / "html")
    assert built.returncode == 1, built.stdout + built.stderr
    ((file, line, subtype, message),) = problems(built.stderr)
    assert (file, line, subtype) == ("index.rst", 4, "mismatch")
    assert message.startswith(f"stated total 1,000 for {CONV}, but the model has 1,160: +160")
    assert "Traceback" not in built.stderr


def test_console_script_of_the_wheel(fresh_venv: FreshVenv) -> None:
    script = fresh_venv.root / "bin" / "sphinx-paramcount"
    shown = run(script, CONV, "--format", "json", cwd=fresh_venv.root)
    assert shown.returncode == 0, shown.stderr
    report = json.loads(shown.stdout)
    assert (report["total"], [(r["name"], r["params"]) for r in report["rows"]]) == (1160, [("", 1160)])


# -- the install instructions -------------------------------------------------------------------

INSTALL_PAGES = ["README.md", "docs/index.rst", "docs/getting-started.rst", "docs/getting-started-myst.md"]
FROM_AN_INDEX = re.compile(r"pip install (\S+ )*[\"']?sphinx-paramcount\b(?![./\w-])")  # not a path
CPU_TORCH = "pip install torch --index-url https://download.pytorch.org/whl/cpu"


def console_pip(page: str) -> list[str]:
    """The ``$ pip install ...`` commands of a page's console blocks, in order."""
    return re.findall(r"^\s*\$ (pip install .*)$", (REPO / page).read_text(), re.M)


def test_docs_install_from_a_checkout_or_the_wheel(dists: Dists) -> None:
    """No release is on an index yet: the pages install a checkout (``pip install .``) or
    the wheel ``python -m build`` writes to ``dist/`` (by a pattern matching its name), after
    torch's CPU-only wheel; never ``pip install sphinx-paramcount`` from an index."""
    assert [page for page in INSTALL_PAGES if FROM_AN_INDEX.search((REPO / page).read_text())] == []
    front = console_pip("docs/index.rst")
    assert front[:2] == [CPU_TORCH, "pip install ."]
    for page in ["docs/getting-started.rst", "docs/getting-started-myst.md"]:
        assert console_pip(page)[:2] == front[:2], page
    wheels = [
        w for page in INSTALL_PAGES for w in re.findall(r"pip install (dist/\S+\.whl)", (REPO / page).read_text())
    ]
    assert len(wheels) == 2  # the front page's and the README's
    for pattern in wheels:
        assert fnmatch.fnmatch(f"dist/{dists.wheel.name}", pattern), pattern


def test_ci_snippet_installs_torch_cpu_wheel_first() -> None:
    """A CI runner has no GPU: torch's CPU wheel, before the package pulls in the CUDA build."""
    page = (REPO / "docs" / "drift.rst").read_text()
    (yaml,) = re.findall(r"^For GitHub Actions.*\n\n\.\. code-block:: yaml\n\n((?:   .*\n|\n)+)", page, re.M)
    steps = re.findall(r"- run: (.*)", yaml)
    assert steps[0] == CPU_TORCH
    assert re.fullmatch(r"pip install \S+/sphinx_paramcount-\*\.whl myst-parser furo", steps[1])
    assert len(steps) == 4 and steps[3].startswith("sphinx-build -W -n -j auto docs")


ISSUE = re.compile(r"\bissues? #?\d+", re.I)


def test_no_doc_names_an_issue_number() -> None:
    """Users never see the tracker's numbers: the docs, the README, the package's own text."""
    files = [REPO / "README.md", REPO / "benchmarks" / "README.md", *sorted((REPO / "docs").rglob("*"))]
    files += sorted(PACKAGE.rglob("*.py"))
    named = [
        f"{f.relative_to(REPO)}:{n}: {line.strip()}"
        for f in files
        if f.is_file() and f.suffix in {".md", ".rst", ".py", ".txt", ".ipynb"} and "_build" not in f.parts
        for n, line in enumerate(f.read_text().splitlines(), 1)
        if ISSUE.search(line)
    ]
    assert named == []


# The README's file names: inline code that is a path (``a/b``, ``name.ext``), in prose.
PATH_LIKE = re.compile(r"^(\.?[\w-]+/)+[\w.-]*$|^[\w-]+\.(py|md|rst|toml|txt|css|json)$")
NOT_IN_THE_REPO = {"conf.py", "dist/"}  # the user's; what ``python -m build`` writes


def test_readme_names_only_files_that_exist() -> None:
    readme = (REPO / "README.md").read_text()
    prose = re.sub(r"^(`{3,}).*?^\1", "", readme, flags=re.M | re.S)  # drop fenced blocks
    named = {span for span in re.findall(r"`([^`\s]+)`", prose) if PATH_LIKE.match(span)}
    assert {"tests/test_browser.py", "benchmarks/README.md", "docs/"} <= named  # the check reads them
    assert sorted(p for p in named - NOT_IN_THE_REPO if not (REPO / p).exists()) == []
