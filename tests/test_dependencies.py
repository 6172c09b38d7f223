"""Issue 10: a rebuild notices every edit to the user's code a count depends on.

Not only the files defining the model's classes: the factory's module, a
module-level instance, constants and configs imported from other modules
(absolute, ``import cfg; cfg.H``, relative, through a second module), a
dataclass config, and the formula functions ``conf.py`` registers.  Each is a
page of one generated site (``SITE``), checked in real incremental
``sphinx-build`` runs (same output and doctree folders, one edit, a rebuild),
and in process through ``cache.cached_explain``, which sphinx-autobuild and
test sessions use across builds.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from sphinx_paramcount import cache
from sphinx_paramcount.api import explain
from sphinx_paramcount.errors import ImportTargetError
from sphinx_paramcount.sources import model_sources, reload_order
from tests.test_reliability import problems

REPO = Path(__file__).resolve().parent.parent

# Every model here is Linear(4, H) then Linear(H, 2): 7 H + 2 parameters.
SEQ = "nn.Sequential(nn.Linear(4, {h}), nn.Linear({h}, 2))"
BEFORE, AFTER = 58, 114  # H = 8, then H = 16

SITE = {
    "conf.py": """
        import os, sys
        sys.path.insert(0, os.path.dirname(__file__))
        extensions = ["sphinx_paramcount"]
        paramcount_formulas = {"scaled.Scale": "myformulas:scale"}
    """,
    # The factory and its constant in one file: the file defines no module class.
    "f.py": f"""
        import torch.nn as nn
        H = 8
        def make():
            return {SEQ.format(h="H")}
    """,
    "from_import.py": f"""
        import torch.nn as nn
        from cfg_a import H
        def make():
            return {SEQ.format(h="H")}
    """,
    "cfg_a.py": "H = 8\n",
    "module_attr.py": f"""
        import torch.nn as nn
        import cfg_b
        def make():
            return {SEQ.format(h="cfg_b.H")}
    """,
    "cfg_b.py": "H = 8\n",
    "pkg/__init__.py": "",
    "pkg/model.py": f"""
        import torch.nn as nn
        from .settings import H
        def make():
            return {SEQ.format(h="H")}
    """,
    "pkg/settings.py": "H = 8\n",
    # ``from pkg import settings``: a submodule imported by name from its package.
    "sub_import.py": f"""
        import torch.nn as nn
        from pkg import settings
        def make():
            return {SEQ.format(h="settings.H")}
    """,
    # An import inside the factory: it ran, so it counts.
    "local_import.py": f"""
        import torch.nn as nn
        def make():
            from cfg_c import H
            return {SEQ.format(h="H")}
    """,
    "cfg_c.py": "H = 8\n",
    "config.py": """
        from dataclasses import dataclass

        @dataclass
        class Config:
            hidden: int = 8
    """,
    "dcnet.py": """
        import torch.nn as nn
        from config import Config

        class Net(nn.Module):
            def __init__(self, cfg=None):
                super().__init__()
                cfg = cfg or Config()
                self.fc1 = nn.Linear(4, cfg.hidden)
                self.fc2 = nn.Linear(cfg.hidden, 2)
    """,
    "netdef.py": """
        import torch.nn as nn

        class Net(nn.Module):
            def __init__(self, h):
                super().__init__()
                self.fc1 = nn.Linear(4, h)
                self.fc2 = nn.Linear(h, 2)
    """,
    "inst.py": "from netdef import Net\nMODEL = Net(8)\n",
    # Two hops: deep imports mid, mid imports base_cfg.
    "deep.py": f"""
        import torch.nn as nn
        import mid
        def make():
            return {SEQ.format(h="mid.WIDTH")}
    """,
    "mid.py": "from base_cfg import H\nWIDTH = H\n",
    "base_cfg.py": "H = 8\n",
    "scaled.py": """
        import torch
        import torch.nn as nn

        class Scale(nn.Module):
            def __init__(self):
                super().__init__()
                self.weight = nn.Parameter(torch.ones(8))
    """,
    "myformulas.py": """
        from sphinx_paramcount.formulas import Sym

        def scale(m):
            return Sym("s_{before}", "Scales", m.weight.shape[0])
    """,
    "stable_net.py": f"""
        import torch.nn as nn
        def make():
            return {SEQ.format(h="8")}
    """,
}

# page -> (target, the file an edit changes H = 8 to H = 16 in)
PAGES = {
    "factory": ("f:make", "f.py"),
    "from_import": ("from_import:make", "cfg_a.py"),
    "module_attr": ("module_attr:make", "cfg_b.py"),
    "package": ("pkg.model:make", "pkg/settings.py"),
    "submodule": ("sub_import:make", "pkg/settings.py"),
    "local_import": ("local_import:make", "cfg_c.py"),
    "dataclass_config": ("dcnet:Net", "config.py"),
    "instance": ("inst:MODEL", "inst.py"),
    "two_hops": ("deep:make", "base_cfg.py"),
}
EDITS = {
    "f.py": ("H = 8", "H = 16"),
    "cfg_a.py": ("H = 8", "H = 16"),
    "cfg_b.py": ("H = 8", "H = 16"),
    "pkg/settings.py": ("H = 8", "H = 16"),
    "cfg_c.py": ("H = 8", "H = 16"),
    "config.py": ("hidden: int = 8", "hidden: int = 16"),
    "inst.py": ("Net(8)", "Net(16)"),
    "base_cfg.py": ("H = 8", "H = 16"),
}


def write_site(src: Path) -> None:
    for name, text in SITE.items():
        path = src / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
    pages = [*PAGES, "formula", "library", "unrelated"]
    (src / "index.rst").write_text("Site\n====\n\n.. toctree::\n\n" + "".join(f"   {p}\n" for p in pages))
    for page, (target, _) in PAGES.items():
        (src / f"{page}.rst").write_text(f"{page}\n=====\n\n.. paramcount:: {target}\n   :total: {BEFORE}\n")
    (src / "formula.rst").write_text("formula\n=======\n\n.. paramcount:: scaled:Scale\n   :total: 8\n")
    (src / "library.rst").write_text("library\n=======\n\n.. paramcount:: torch.nn.Linear(4, 2)\n   :total: 10\n")
    (src / "unrelated.rst").write_text(
        f"unrelated\n=========\n\n.. paramcount:: stable_net:make\n   :total: {BEFORE}\n"
    )


def edit(path: Path, old: str, new: str) -> None:
    """Replace ``old`` once, and move the mtime on by a second at least.

    Python's cached bytecode is trusted when the source's size and mtime in
    whole seconds are the same: an edit in the same second as the first
    import, keeping the size, would load the old code.
    """
    text = path.read_text()
    assert text.count(old) == 1, (path, old)
    before = path.stat().st_mtime_ns
    path.write_text(text.replace(old, new))
    after = max(path.stat().st_mtime_ns, before + 10**9)
    os.utime(path, ns=(after, after))


def sphinx_build(src: Path, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """An incremental build: the same doctrees every time, no ``-E``."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO / "ext"), str(REPO)]))
    return subprocess.run(
        [sys.executable, "-m", "sphinx", "-b", "html", "-d", str(out / ".doctrees"), *extra, str(src), str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def pages_read(stdout: str) -> set[str]:
    """The pages a serial build read, from ``reading sources... [ 50%] page``."""
    plain = re.sub(r"\x1b\[[0-9;]*m", "", stdout)  # Sphinx colours its output in some CIs
    return set(re.findall(r"reading sources\.\.\. \[\s*\d+%\] (\S+)$", plain, re.MULTILINE))


def mismatch(page: str, target: str) -> tuple[str, int, str, str]:
    return (
        f"{page}.rst",
        4,
        "mismatch",
        f"stated total {BEFORE} for {target}, but the model has {AFTER}: +{AFTER - BEFORE} (+96.55%)",
    )


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_rebuild_rereads_pages_whose_user_code_changed(tmp_path: Path, jobs: str) -> None:
    src, out = tmp_path / "src", tmp_path / "out"
    write_site(src)
    first = sphinx_build(src, out, "-j", jobs)
    assert first.returncode == 0, first.stderr
    assert problems(first.stderr) == []

    for name, (old, new) in EDITS.items():
        edit(src / name, old, new)
    edit(src / "myformulas.py", "s_{before}", "s_{after}")
    second = sphinx_build(src, out, "-j", jobs)

    assert second.returncode == 1, second.stderr
    assert f"0 added, {len(PAGES) + 1} changed, 0 removed" in second.stdout
    if jobs == "1":  # with -j pages are read in chunks, named by their first and last page
        # Library code and user code nobody edited: those pages are not read again.
        assert pages_read(second.stdout) == {*PAGES, "formula"}
    # Each message goes on with what to do (run 'sphinx-paramcount update ...'); the numbers come first.
    found = sorted(
        (page, line, subtype, message.partition(" (run ")[0])
        for page, line, subtype, message in problems(second.stderr)
    )
    assert found == sorted(mismatch(page, target) for page, (target, _) in PAGES.items())
    for page in PAGES:
        assert f"{AFTER:,}" in (out / f"{page}.html").read_text()
    # The formula's module is the user's: the page shows the edited formula.
    formula_page = (out / "formula.html").read_text()
    assert r"s_{after}" in formula_page and r"s_{before}" not in formula_page


# -- in process: what a count depends on, and the per-process cache ------------------------------


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """``SITE`` importable in this process; its modules and cached counts are forgotten afterwards."""
    src = tmp_path / "src"
    write_site(src)
    monkeypatch.syspath_prepend(str(src))
    loaded = set(sys.modules)
    cache.clear()
    yield src
    for name in set(sys.modules) - loaded:
        if str(getattr(sys.modules[name], "__file__", "")).startswith(str(src)):
            del sys.modules[name]
    cache.clear()


@pytest.mark.parametrize(
    ("target", "files"),
    [
        ("f:make", ["f.py"]),
        ("from_import:make", ["cfg_a.py", "from_import.py"]),
        ("module_attr:make", ["cfg_b.py", "module_attr.py"]),
        ("pkg.model:make", ["pkg/model.py", "pkg/settings.py"]),
        ("sub_import:make", ["pkg/__init__.py", "pkg/settings.py", "sub_import.py"]),
        ("local_import:make", ["cfg_c.py", "local_import.py"]),
        ("dcnet:Net", ["config.py", "dcnet.py"]),
        ("inst:MODEL", ["inst.py", "netdef.py"]),
        ("deep:make", ["base_cfg.py", "deep.py", "mid.py"]),
        ("torch.nn.Linear(4, 2)", []),
        # A call's arguments are roots too: Net comes from netdef, the call from torch.
        ("torch.nn.Sequential(netdef.Net(3))", ["netdef.py"]),
    ],
)
def test_sources_are_the_user_files_the_count_depends_on(site: Path, target: str, files: list[str]) -> None:
    assert explain(target).sources == [str(site / f) for f in files]


def test_sources_include_the_user_formula_the_model_uses_and_no_library(site: Path) -> None:
    from sphinx_paramcount.formulas.registry import FormulaRegistry, default_registry

    registry = default_registry().copy()
    registry.add_spec("scaled.Scale", "myformulas:scale")
    report = explain("scaled:Scale", registry=registry)
    assert report.rows[0].formula == "s_{before}"
    # myformulas imports sphinx_paramcount.formulas, scaled imports torch: neither is followed.
    assert report.sources == [str(site / "myformulas.py"), str(site / "scaled.py")]
    # Without the formula, its module is no dependency.
    import scaled

    assert model_sources(scaled.Scale(), "scaled:Scale", FormulaRegistry()) == [str(site / "scaled.py")]


def test_reload_order_reloads_importers_after_what_they_import(site: Path) -> None:
    import deep  # noqa: F401 - loads mid and base_cfg

    tracked = [str(site / f) for f in ("deep.py", "mid.py", "base_cfg.py", "f.py")]
    order = [m.__name__ for m in reload_order([str(site / "base_cfg.py")], tracked)]
    assert order == ["base_cfg", "mid", "deep"]
    # An edit to the top module reloads only it.
    assert [m.__name__ for m in reload_order([str(site / "deep.py")], tracked)] == ["deep"]


def test_cache_notices_an_edited_config_and_rebinds_from_imports(site: Path) -> None:
    assert cache.cached_explain("from_import:make").total == BEFORE
    assert cache.cached_explain("module_attr:make").total == BEFORE
    builds, reloads = cache.stats["builds"], cache.stats["reloads"]
    assert cache.cached_explain("from_import:make").total == BEFORE
    assert cache.stats["builds"] == builds  # served from the cache

    edit(site / "cfg_a.py", "H = 8", "H = 16")
    # Reloading cfg_a alone would leave from_import.H == 8.
    assert cache.cached_explain("from_import:make").total == AFTER
    assert sys.modules["from_import"].H == 16
    assert cache.stats["reloads"] == reloads + 2  # cfg_a and from_import; module_attr imports neither
    # The untouched target is still right, and built again (every count was dropped).
    assert cache.cached_explain("module_attr:make").total == BEFORE
    assert cache.stats["builds"] == builds + 2


def test_cache_reloads_for_a_target_first_asked_after_the_edit(site: Path) -> None:
    """``mid`` is loaded, and then edited, before ``deep`` is ever counted."""
    import mid

    assert cache.cached_explain("torch.nn.Sequential(torch.nn.Linear(4, mid.WIDTH))").total == 4 * 8 + 8
    edit(site / "base_cfg.py", "H = 8", "H = 16")
    assert cache.cached_explain("deep:make").total == AFTER
    assert mid.WIDTH == 16


def test_cache_notices_edits_two_imports_away_and_in_instances(site: Path) -> None:
    assert cache.cached_explain("deep:make").total == BEFORE
    assert cache.cached_explain("inst:MODEL").total == BEFORE
    assert cache.cached_explain("dcnet:Net").total == BEFORE
    edit(site / "base_cfg.py", "H = 8", "H = 16")
    edit(site / "netdef.py", "nn.Linear(h, 2)", "nn.Linear(h, 3)")
    edit(site / "config.py", "hidden: int = 8", "hidden: int = 16")
    assert cache.cached_explain("deep:make").total == AFTER
    assert cache.cached_explain("inst:MODEL").total == 4 * 8 + 8 + 8 * 3 + 3
    assert cache.cached_explain("dcnet:Net").total == AFTER


def test_cache_reports_a_broken_edit_at_the_import_and_recovers(site: Path) -> None:
    assert cache.cached_explain("from_import:make").total == BEFORE
    edit(site / "cfg_a.py", "H = 8", "H = = 8")
    with pytest.raises(ImportTargetError) as info:
        cache.cached_explain("from_import:make")
    assert "SyntaxError" in info.value.message
    assert "importing 'from_import' failed" in info.value.message
    edit(site / "cfg_a.py", "H = = 8", "H = 16")
    assert cache.cached_explain("from_import:make").total == AFTER


def test_cache_notices_an_edit_that_keeps_the_size_within_the_same_second(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Python's bytecode cache would take such a file for the one it compiled."""
    monkeypatch.setattr(sys, "dont_write_bytecode", False)  # as users run Python (PYTHONDONTWRITEBYTECODE unset)
    cfg = site / "cfg_a.py"
    assert cache.cached_explain("from_import:make").total == BEFORE
    assert list((site / "__pycache__").glob("cfg_a.*.pyc"))
    stat = cfg.stat()
    cfg.write_text(cfg.read_text().replace("H = 8", "H = 9"))
    os.utime(cfg, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1))  # the same second, the same size
    assert cache.cached_explain("from_import:make").total == 7 * 9 + 2


def test_sphinx_rebuild_in_one_process_counts_the_edited_config(site: Path, tmp_path: Path) -> None:
    """Two builds in one process (as sphinx-autobuild and test sessions run them), one edit between."""
    from sphinx.cmd.build import build_main

    out, warnings = tmp_path / "out", tmp_path / "warnings.txt"
    args = ["-q", "-b", "html", "-d", str(out / ".doctrees"), "-w", str(warnings), str(site), str(out)]
    assert build_main(args) == 0, warnings.read_text()
    edit(site / "cfg_a.py", "H = 8", "H = 16")
    assert build_main(args) == 1
    found = [
        (page, line, subtype, message.partition(" (run ")[0])
        for page, line, subtype, message in problems(warnings.read_text())
    ]
    assert found == [mismatch("from_import", "from_import:make")]
    assert f"{AFTER:,}" in (out / "from_import.html").read_text()


def test_cache_reports_a_deleted_config_at_the_import(site: Path) -> None:
    assert cache.cached_explain("from_import:make").total == BEFORE
    (site / "cfg_a.py").unlink()
    with pytest.raises(ImportTargetError) as info:
        cache.cached_explain("from_import:make")
    assert info.value.message == "importing 'from_import' failed: ModuleNotFoundError: No module named 'cfg_a'"


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_fix_after_a_failed_build_is_picked_up_by_an_incremental_rebuild(tmp_path: Path, jobs: str) -> None:
    """A page whose model failed to import or to build depends on the code it names, and what that imports."""
    src, out = tmp_path / "src", tmp_path / "out"
    src.mkdir()
    (src / "conf.py").write_text(
        "import os, sys\nsys.path.insert(0, os.path.dirname(__file__))\nextensions = ['sphinx_paramcount']\n"
    )
    (src / "index.rst").write_text("Index\n=====\n\n.. toctree::\n\n   syntax\n   ctor\n   config\n")
    (src / "fm.py").write_text("import torch.nn as nn\n\n\ndef make():\n    return nn.Linear(2, 2)\n")
    (src / "fc.py").write_text("import torch.nn as nn\n\n\ndef make():\n    return nn.Linear(2, 2)\n")
    (src / "cfg.py").write_text("H = 2\n")
    (src / "fh.py").write_text(
        "import torch.nn as nn\nfrom cfg import H\n\n\ndef make():\n    return nn.Linear(2, H)\n"
    )
    for page, target in (("syntax", "fm:make"), ("ctor", "fc:make"), ("config", "fh:make")):
        (src / f"{page}.rst").write_text(f"{page}\n{'=' * len(page)}\n\n.. paramcount:: {target}\n   :total: 6\n")
    assert sphinx_build(src, out, "-j", jobs).returncode == 0

    edit(src / "fm.py", "def make():", "def make(:")  # a syntax error: the import fails
    edit(src / "fc.py", "nn.Linear(2, 2)", "nn.Linear(2)")  # the constructor fails
    edit(src / "cfg.py", "H = 2", "H = = 2")  # a module the target's module imports fails
    broken = sphinx_build(src, out, "-j", jobs)
    assert broken.returncode == 1
    assert [(f, sub) for f, _, sub, _ in problems(broken.stderr)] == [
        ("config.rst", "import"),
        ("ctor.rst", "instantiate"),
        ("syntax.rst", "import"),
    ]

    edit(src / "fm.py", "def make(:", "def make():")
    edit(src / "fc.py", "nn.Linear(2)", "nn.Linear(2, 2)")
    edit(src / "cfg.py", "H = = 2", "H = 2")
    fixed = sphinx_build(src, out, "-j", jobs)
    assert fixed.returncode == 0, fixed.stderr
    assert problems(fixed.stderr) == []
    assert "3 changed" in fixed.stdout
