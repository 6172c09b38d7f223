"""Issue 5: every bad input is a located error, the rest builds, nothing is lost or reported twice.

Real Sphinx builds: small projects under ``tests/roots/test-reliability*`` (in process
with ``sphinx.testing``, or with ``python -m sphinx`` where the command line matters:
``-v``, ``-j``, the exit status), and one generated site of 500 directives.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import torch
from bs4 import BeautifulSoup
from torch import nn

from sphinx_paramcount import cache
from sphinx_paramcount.api import explain
from sphinx_paramcount.build import build_model
from tests.models import reliability

REPO = Path(__file__).resolve().parent.parent
ROOTS = REPO / "tests" / "roots"
REL = "tests.models.reliability"

# ``/path/index.rst:12: ERROR: paramcount: message [paramcount.subtype]``, as Sphinx logs it.
PROBLEM = re.compile(
    # A notebook's location is its cell and the line in it: "nb.ipynb:cell 3:2".
    r"^(?P<path>\S+?(?::cell \d+)?):(?P<line>\d+): (?P<level>ERROR|WARNING): paramcount: (?P<message>.*) "
    r"\[paramcount\.(?P<subtype>\w+)\]$"
)

ANSI = re.compile(r"\x1b\[[0-9;]*m")  # sphinx.testing's warning stream is coloured


def problems(log: str) -> list[tuple[str, int, str, str]]:
    """(file name, line, subtype, message) of every paramcount problem in a log, in order."""
    out = []
    for line in ANSI.sub("", log).splitlines():
        m = PROBLEM.match(line.strip())
        if m:
            out.append((Path(m["path"]).name, int(m["line"]), m["subtype"], m["message"]))
    return out


def sphinx_build(src: Path, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO / "ext"), str(REPO)]))
    return subprocess.run(
        [sys.executable, "-m", "sphinx", "-b", "html", "-E", "-d", str(out / ".doctrees"), *extra, str(src), str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def latex_value(latex: str) -> int:
    """Evaluate a derivation shown in the page (``4 \\times 3 + 4``): ints, + and * only.

    A row that adds nothing says whose tensors it uses (``tied to ...``): 0.
    """
    if latex.startswith((r"\text{tied to }", r"\text{same module as }")):
        return 0
    tree = ast.parse(latex.replace(r"\times", "*").replace("{,}", ""), mode="eval")

    def value(node: ast.AST) -> int:
        if isinstance(node, ast.Constant) and type(node.value) is int:
            return node.value
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Mult)):
            left, right = value(node.left), value(node.right)
            return left + right if isinstance(node.op, ast.Add) else left * right
        raise AssertionError(f"not plain arithmetic: {latex!r}")

    return value(tree.body)


def cell_text(cell: Any) -> str:
    """A cell's text as a reader sees it: a ``<wbr>`` (where a name may wrap) adds no space."""
    for hint in cell.find_all("wbr"):
        hint.decompose()
    cell.smooth()
    return str(cell.get_text(" ", strip=True))


def table_rows(table: Any) -> list[list[str]]:
    return [[cell_text(c) for c in tr.find_all(["td", "th"])] for tr in table.find_all("tr")]


def check_table_adds_up(table: Any) -> dict[str, list[str]]:
    """Every row's derivation evaluates to its count, and the counted rows to the total."""
    rows = table_rows(table)
    assert rows[0][:4] == ["Layer", "Parameters", "Share", "Type"] and rows[0][-2:] == ["Formula", "Derivation"]
    body = rows[1:]
    for row in body:
        derivation, count = row[-1], row[1]
        if derivation.startswith("tied to "):  # words and names, not math: it adds nothing
            assert count == "0" and row[-2] == derivation, row
            continue
        assert derivation.startswith(r"\(") and derivation.endswith(r"\)"), row
        assert latex_value(derivation[2:-2]) == int(count.strip("()").replace(",", "")), row
    counted = [int(r[1].replace(",", "")) for r in body[:-1] if not r[1].startswith("(")]
    assert body[-1][0] == "Total"
    assert sum(counted) == int(body[-1][1].replace(",", ""))
    return {r[0]: r for r in body}


def numel(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# -- bad inputs: located errors, the page still builds -------------------------------------------

BAD_INPUTS = [
    (4, "import", "importing 'tests.models.broken_import' failed: RuntimeError: this module is broken on purpose"),
    (8, "import", "importing 'tests.models.broken_import' failed: RuntimeError: this module is broken on purpose"),
    (10, "import", "importing 'tests.models.exits_on_import' called sys.exit(0)"),
    (14, "instantiate", "building 'tests.models.zoo:Exits' called sys.exit(3)"),
    (16, "instantiate", f"building '{REL}:ExitsWithMessage' called sys.exit('giving up')"),
    (18, "instantiate", "building 'torch.nn.Sequential' called sys.exit(3)"),
    (22, "instantiate", "'tests.models.zoo:not_a_model' returned a int, not an nn.Module"),
    (24, "instantiate", f"'{REL}:returns_none' returned a NoneType, not an nn.Module"),
    (26, "instantiate", f"'{REL}:returns_a_class' returned a type, not an nn.Module"),
    (28, "instantiate", f"'{REL}:returns_a_tensor' returned a Tensor, not an nn.Module"),
    (30, "instantiate", f"'{REL}:returns_none' returned a NoneType, not an nn.Module"),  # the role
    (32, "instantiate", f"building '{REL}:Broken' raised ValueError: reliability: broken on purpose"),
]


@pytest.mark.sphinx("html", testroot="reliability", freshenv=True)
def test_bad_targets_are_located_errors_each_once_and_the_page_builds(app, status, warning):
    app.build()
    assert app.statuscode == 1
    text = warning.getvalue()
    found = problems(text)
    # Exactly the expected problems, in page order, each once: nothing lost, nothing repeated.
    assert [(f, line, sub) for f, line, sub, _ in found] == [("index.rst", line, sub) for line, sub, _ in BAD_INPUTS]
    for (_, _, _, message), (line, _, words) in zip(found, BAD_INPUTS):
        assert message.startswith(words), (line, message)
        assert "ERROR" in next(x for x in text.splitlines() if f"index.rst:{line}:" in x)
    assert "Traceback" not in text + status.getvalue()
    assert "paramcount: 12 problems in the docs:" in status.getvalue()

    html = (app.outdir / "index.html").read_text()
    for words in (
        "After the module that raises on import.",
        "After the module that calls sys.exit when imported.",
        "After the constructors that call sys.exit.",
        "After all the errors the page is still here.",
    ):
        assert words in html
    soup = BeautifulSoup(html, "html.parser")
    # The good directive after eleven bad ones renders its table.
    (table,) = soup.select("table.paramcount-table")
    assert check_table_adds_up(table)["Total"][1] == "131,618"
    # The failing role keeps the author's text, marked as a problem.
    assert f":paramcount:`{REL}:returns_none`" in soup.select_one(".problematic").get_text()


def test_sys_exit_when_imported_does_not_end_the_build(tmp_path):
    """Before the fix, ``sys.exit(0)`` in a model module ended sphinx-build with status 0 and no pages."""
    result = sphinx_build(ROOTS / "test-reliability", tmp_path / "out")
    assert result.returncode == 1
    assert ("index.rst", 10, "import", "importing 'tests.models.exits_on_import' called sys.exit(0) "
            "(a module that defines a model must not exit when imported; "
            "guard script code with 'if __name__ == \"__main__\":')") in problems(result.stderr)  # fmt: skip
    assert len(problems(result.stderr)) == len(BAD_INPUTS)
    assert "After all the errors the page is still here." in (tmp_path / "out" / "index.html").read_text()
    assert "Traceback" not in result.stderr + result.stdout


def test_verbose_build_shows_the_original_exception_chained(tmp_path):
    result = sphinx_build(ROOTS / "test-reliability", tmp_path / "out", "-v")
    assert result.returncode == 1
    err = result.stderr
    assert err.count("Traceback (most recent call last)") >= len(BAD_INPUTS)
    assert "The above exception was the direct cause of the following exception" in err
    # The user's exception first, then ours, which says where and what.
    for original, ours in [
        ("RuntimeError: this module is broken on purpose", "ImportTargetError: importing 'tests.models.broken_import'"),
        ("ValueError: reliability: broken on purpose", f"InstantiateError: building '{REL}:Broken'"),
        ("SystemExit: 3", "InstantiateError: building 'tests.models.zoo:Exits' called sys.exit(3)"),
        ("SystemExit: 0", "ImportTargetError: importing 'tests.models.exits_on_import' called sys.exit(0)"),
    ]:
        assert original in err and ours in err
        assert err.index(original) < err.index(ours), (original, ours)
    assert 'broken_import.py", line 3' in err  # the user's own frame is in it
    # Still located and typed.
    assert "index.rst:32: ERROR: paramcount: building" in err
    assert "[paramcount.instantiate]" in err


def test_show_traceback_flag_shows_the_original_exception(tmp_path):
    result = sphinx_build(ROOTS / "test-reliability", tmp_path / "out", "-T")
    assert "RuntimeError: this module is broken on purpose" in result.stderr
    assert "Traceback (most recent call last)" in result.stderr


# -- models that are not plain; constructors that print -------------------------------------------


@pytest.mark.sphinx("html", testroot="reliability-models", freshenv=True)
def test_models_that_are_not_plain_count_exactly_and_build_cleanly(app, status, warning, capfd):
    cache.clear()  # build here, in this process, so that prints happen under capfd
    app.build()
    assert app.statuscode == 0, warning.getvalue()
    assert problems(warning.getvalue()) == []

    # What a constructor prints (stdout, stderr) or warns never reaches the terminal as stray text ...
    out, err = capfd.readouterr()
    assert "chatter" not in out + err and "hello from Chatty" not in out + err
    assert "a warning from PrintsEverywhere" not in out + err + status.getvalue() + warning.getvalue()
    # ... it is a located notice, one line each.
    log = ANSI.sub("", status.getvalue())
    printed = [line for line in log.splitlines() if "printed while being built" in line]
    assert len(printed) == 3, log
    assert printed[0].endswith(
        "printing.rst:4: paramcount: tests.models.zoo:Chatty printed while being built: hello from Chatty"
    )
    assert printed[1].endswith(
        f"printing.rst:7: paramcount: {REL}:PrintsEverywhere printed while being built: "
        "chatter on stdout from PrintsEverywhere; chatter on stderr from PrintsEverywhere"
    )
    assert "printing.rst:10:" in printed[2]
    chatter = [line for line in log.splitlines() if "chatter" in line or "hello from Chatty" in line]
    assert chatter == printed  # no stray line of output anywhere else
    # A fallback notice is one line, not torch's page-long list of dispatch keys.
    fallback = [line for line in log.splitlines() if "index.rst:25: paramcount: torch.ao.nn.quantized.Linear" in line]
    assert len(fallback) == 1 and len(fallback[0]) < 500
    assert "QuantizedCPU: registered at" not in log
    assert "Traceback" not in log + warning.getvalue()

    printing = BeautifulSoup((app.outdir / "printing.html").read_text(), "html.parser")
    assert "After the printing constructors." in printing.get_text()
    assert [p.get_text() for p in printing.select("p.paramcount")] == ["18"]


@pytest.mark.sphinx("html", testroot="reliability-models", freshenv=True)
def test_parametrized_pruned_quantized_zero_views_and_shared_tables(app, warning):
    app.build()
    assert app.statuscode == 0, warning.getvalue()
    soup = BeautifulSoup((app.outdir / "index.html").read_text(), "html.parser")
    tables = {t.get("id"): t for t in soup.select("table.paramcount-table")}
    expected = {
        "parametrized": numel(reliability.parametrized()),
        "pruned": numel(reliability.pruned()),
        "dynamic-quantized": numel(reliability.dynamic_quantized()),
        "quantized-linear": numel(torch.ao.nn.quantized.Linear(4, 2)),
        "zero-params": numel(reliability.ZeroParams()),
        "view-params": numel(reliability.ViewParams()),
        "shared-thrice": numel(reliability.SharedThrice()),
    }
    # The totals stated in the page are the real ones (the build passed, so the tables agree).
    assert expected == {
        "parametrized": 492,
        "pruned": 68,
        "dynamic-quantized": 8,
        "quantized-linear": 0,
        "zero-params": 0,
        "view-params": 116,
        "shared-thrice": 74,
    }
    rows = {}
    for name, total in expected.items():
        rows[name] = check_table_adds_up(tables[name])
        assert rows[name]["Total"][1] == f"{total:,}", name

    # A parametrization: the layer's formula no longer fits, so the row shows tensor sizes and says why.
    conv = rows["parametrized"]["0"]
    assert conv[3].startswith("ParametrizedConv2d(3, 6, k=3) (the conv formula gives 168 but the tensors hold 6 ")
    assert "a parametrization, pruning or a subclass changed them" in conv[3]
    assert conv[4] == r"\(|\mathtt{bias}|\)"
    linear = rows["parametrized"]["2"]
    assert "the linear formula gives 250 but the tensors hold 10" in linear[3]
    assert rows["parametrized"]["2.parametrizations.weight.0"][5::-4] == [r"\(10 \times 2 + 2 \times 24\)", "68"]
    assert len(soup.select("table#parametrized em.paramcount-note")) == 2

    # Pruning keeps weight_orig as the parameter: Linear's formula still holds, exactly.
    assert rows["pruned"]["0"][5::-4] == [r"\(8 \times 6 + 6\)", "54"]
    assert rows["pruned"]["2"][5::-4] == [r"\(6 \times 2 + 2\)", "14"]
    # Packed quantized weights are not parameters; the float LayerNorm is.
    assert list(rows["dynamic-quantized"]) == ["3", "Total"]
    assert list(rows["quantized-linear"]) == ["Total"]
    # Zero parameters: a table with only the total, and the derivation prose says 0.
    assert rows["zero-params"]["Total"][1:3] + rows["zero-params"]["Total"][-1:] == ["0", "0.0%", r"\(0\)"]
    assert "Total parameters: 0" in " ".join(soup.get_text(" ").split())
    # A parameter in three modules and a module in three places count once.
    shared = rows["shared-thrice"]
    # Every use of the shared LayerNorm is named; the later ones say where it was counted.
    assert list(shared) == ["a", "b", "c", "norm1", "blocks.0", "blocks.1", "extra.0", "Total"]
    assert "blocks.0 is norm1, counted there" in shared["blocks.0"][3]
    assert [shared[n][1] for n in ("a", "b", "c")] == ["42", "6", "0"]
    # A row whose every tensor is tied says so once, in its formula, not again in a note.
    assert shared["c"][3] == "Linear(6, 6, bias=False)"
    assert shared["c"][-2:] == ["tied to a.weight"] * 2
    assert "The end of the page." in soup.get_text()


def test_engine_counts_not_plain_models_like_parameters_does():
    for target, model in [
        (f"{REL}:parametrized", reliability.parametrized()),
        (f"{REL}:pruned", reliability.pruned()),
        (f"{REL}:dynamic_quantized", reliability.dynamic_quantized()),
        (f"{REL}:ViewParams", reliability.ViewParams()),
        (f"{REL}:SharedThrice", reliability.SharedThrice()),
    ]:
        for device in ("meta", "cpu"):
            report = explain(target, device=device)
            assert report.total == numel(model) == sum(r.params for r in report.rows), (target, device)
            assert report.trainable == sum(p.numel() for p in model.parameters() if p.requires_grad)


# -- a module instance shared between directives ---------------------------------------------------


def snapshot(module: nn.Module) -> dict[str, Any]:
    return {
        "state": {k: (v.shape, v.dtype, v.device, v.detach().clone()) for k, v in module.state_dict().items()},
        "params": [(n, id(p), p.requires_grad) for n, p in module.named_parameters()],
        "types": [(n, type(m)) for n, m in module.named_modules()],
        "training": [m.training for m in module.modules()],
        "hooks": sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in module.modules()),
    }


def assert_unchanged(before: dict[str, Any], after: dict[str, Any]) -> None:
    assert before["state"].keys() == after["state"].keys()
    for key, (shape, dtype, device, value) in before["state"].items():
        shape2, dtype2, device2, value2 = after["state"][key]
        assert (shape, dtype, device) == (shape2, dtype2, device2), key
        assert torch.equal(value, value2), key
    assert {k: v for k, v in before.items() if k != "state"} == {k: v for k, v in after.items() if k != "state"}


@pytest.mark.sphinx("html", testroot="reliability-shared", freshenv=True)
def test_shared_instance_is_not_mutated_by_the_directives_that_use_it(app, warning):
    net, lazy = reliability.shared_net, reliability.lazy_instance
    before = snapshot(net)
    assert net.training and int(net.bn.num_batches_tracked) == 0
    lazy_hooks = sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in lazy.modules())  # LazyLinear's own
    cache.clear()  # run the forward passes in this build, not from an earlier test's cache
    app.build()

    assert_unchanged(before, snapshot(net))
    assert int(net.bn.num_batches_tracked) == 0
    # A forward pass with :input-shape: ran on a copy: the instance is still lazy, so the
    # directive below that uses it without a shape fails (it would pass on a mutated instance).
    assert isinstance(lazy[1].weight, nn.parameter.UninitializedParameter)
    assert type(lazy[1]) is nn.LazyLinear
    assert sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in lazy.modules()) == lazy_hooks
    assert [(f, line, sub) for f, line, sub, _ in problems(warning.getvalue())] == [("index.rst", 24, "lazy")]
    assert app.statuscode == 1

    soup = BeautifulSoup((app.outdir / "index.html").read_text(), "html.parser")
    tables = [table_rows(t) for t in soup.select("table.paramcount-table")]
    assert [t[-1][1] for t in tables] == ["845", "845", "8", "112", "51"]
    assert tables[1][0][4] == "Output shape"
    assert {r[0]: r[4] for r in tables[1][1:-1]} == {"conv": "(2, 4, 6, 6)", "bn": "(2, 4, 6, 6)", "fc": "(2, 5)"}
    assert [s.get_text() for s in soup.select("span.paramcount")] == ["845"]
    assert "After the instances." in soup.get_text()


def test_shared_instance_with_input_shape_engine_level():
    net = reliability.shared_net
    before = snapshot(net)
    for _ in range(2):
        report = explain(f"{REL}:shared_net", input_shape=(4, 3, 8, 8))
        assert (report.method, report.total) == ("instance", 845)
        assert report.row("fc").output_shape == "(4, 5)"
    assert build_model(f"{REL}:shared_net").module is net
    assert_unchanged(before, snapshot(net))


# -- KeyboardInterrupt stops the build ---------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [f"{REL}:Interrupts", f"{REL}:Interrupts()", f"torch.nn.Sequential(torch.nn.ReLU(), {REL}.Interrupts())"],
)
@pytest.mark.parametrize("device", ["meta", "cpu"])
def test_keyboard_interrupt_in_a_constructor_propagates(target, device):
    with pytest.raises(KeyboardInterrupt):
        build_model(target, device)
    with pytest.raises(KeyboardInterrupt):
        cache.cached_explain(target, device)


def test_keyboard_interrupt_while_importing_propagates(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "interrupted_on_import.py").write_text("raise KeyboardInterrupt\n")
    for target in (
        "interrupted_on_import:Net",
        "interrupted_on_import.Net",
        "torch.nn.Sequential(interrupted_on_import.Net())",
    ):
        with pytest.raises(KeyboardInterrupt):
            build_model(target)
    assert "interrupted_on_import" not in sys.modules


@pytest.mark.sphinx("html", testroot="reliability-interrupt", freshenv=True)
def test_keyboard_interrupt_propagates_out_of_the_sphinx_build(app):
    with pytest.raises(KeyboardInterrupt):
        app.build()


def test_keyboard_interrupt_stops_sphinx_build(tmp_path):
    result = sphinx_build(ROOTS / "test-reliability-interrupt", tmp_path / "out")
    assert result.returncode == 2
    assert "Interrupted!" in result.stderr
    assert "paramcount" not in result.stderr  # not turned into a located problem
    assert not (tmp_path / "out" / "index.html").exists()


# -- the same site serially and in parallel ----------------------------------------------------------

PARALLEL_PAGES = ["index", "seed", "decoder", "myst", "lazy", "roles", "layers", "tied", "imports"]
PARALLEL_PROBLEMS = {
    ("seed.rst", 10, "mismatch"),
    ("decoder.rst", 8, "import"),
    ("myst.md", 8, "option"),  # :format: and :depth: are two problems of one directive
    ("lazy.rst", 8, "lazy"),
    ("lazy.rst", 10, "target"),
    ("roles.rst", 5, "mismatch"),  # the role's own line, not its paragraph's first
    ("roles.rst", 7, "instantiate"),
    ("layers.rst", 7, "instantiate"),
    ("tied.rst", 7, "instantiate"),
    ("imports.rst", 4, "import"),
    ("imports.rst", 9, "mismatch"),
}


def directive_html(outdir: Path) -> dict[str, list[str]]:
    """Per page: the HTML of every paramcount container, paragraph, inline and problem."""
    out = {}
    for page in PARALLEL_PAGES:
        soup = BeautifulSoup((outdir / f"{page}.html").read_text(), "html.parser")
        parts = soup.select(".paramcount, .paramcount-table, .problematic")
        out[page] = [str(p) for p in parts if not p.find_parent(class_="paramcount")]
    return out


def summary_lines(stdout: str) -> list[str]:
    start = stdout.index("paramcount: 12 problems in the docs:")
    return [line.strip() for line in stdout[start:].splitlines()[1:13]]


def test_serial_and_parallel_builds_agree(tmp_path):
    src = ROOTS / "test-reliability-parallel"
    builds = {jobs: sphinx_build(src, tmp_path / f"j{jobs}", "-j", jobs) for jobs in ("1", "2", "auto")}
    html = {}
    for jobs, result in builds.items():
        assert result.returncode == 1, (jobs, result.stderr)
        found = problems(result.stderr)
        assert len(found) == 12, (jobs, result.stderr)
        assert {(f, line, sub) for f, line, sub, _ in found} == PARALLEL_PROBLEMS
        # Each problem once in the log and once in the summary.
        assert all(n == 1 for n in Counter(found).values()), jobs
        summary = summary_lines(result.stdout)
        assert len(set(summary)) == 12
        assert "Traceback" not in result.stderr + result.stdout
        html[jobs] = directive_html(tmp_path / f"j{jobs}")

    serial = builds["1"]
    for jobs in ("2", "auto"):
        assert sorted(problems(builds[jobs].stderr)) == sorted(problems(serial.stderr)), jobs
        assert sorted(summary_lines(builds[jobs].stdout)) == sorted(summary_lines(serial.stdout)), jobs
        for page in PARALLEL_PAGES:
            assert html[jobs][page] == html["1"][page], (jobs, page)
    # The parallel builds did read in chunks of pages ("reading sources... [ 33%] decoder .. layers").
    for jobs in ("2", "auto"):
        plain = re.sub(r"\x1b\[[0-9;]*m", "", builds[jobs].stdout)  # Sphinx colours output in some CIs
        assert re.search(r"reading sources\.\.\. \[\s*\d+%\] \w+ \.\. \w+", plain), jobs

    fragments = html["1"]
    # A mismatched directive still shows the real count.
    assert len(fragments["seed"]) == 2 and all("131,618" in f for f in fragments["seed"])
    # Every directive and role that can render did, the failing ones left the rest of their page alone.
    assert {page: len(parts) for page, parts in fragments.items()} == {
        "index": 1,
        "seed": 2,
        "decoder": 2,
        "myst": 2,  # the directive with bad options still renders, with its usable options
        "lazy": 1,
        "roles": 3,
        "layers": 3,
        "tied": 2,
        "imports": 2,
    }


# -- a large generated site ----------------------------------------------------------------------------

SCALE_TARGETS = [
    *(f"torch.nn.Linear({i}, {j})" for i, j in [(3, 5), (16, 8), (7, 7), (64, 10), (5, 1), (128, 3)]),
    "torch.nn.Linear(12, 4, bias=False)",
    *(f"torch.nn.Conv2d({a}, {b}, {k})" for a, b, k in [(3, 8, 3), (8, 16, 1), (1, 4, 5)]),
    "torch.nn.Conv1d(4, 6, kernel_size=3, groups=2)",
    "torch.nn.Embedding(100, 12)",
    "torch.nn.LSTM(6, 10, num_layers=2)",
    "torch.nn.GRU(4, 8, bidirectional=True)",
    "torch.nn.LayerNorm(32)",
    "torch.nn.MultiheadAttention(16, 2)",
    "torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))",
    "torch.nn.TransformerEncoderLayer(16, 2, dim_feedforward=32)",
    "tests.models.seed:SimpleNet",
    "tests.models.scale:tiny_decoder",
    "tests.models.zoo:TiedLM",
    "tests.models.zoo:BatchNormNet",
    "tests.models.zoo:FrozenBackbone",
    "tests.models.zoo:WeightNormConv",
    "tests.models.zoo:ClsToken",
    "tests.models.zoo:Deep",
    f"{REL}:SharedThrice",
    f"{REL}:pruned",
    f"{REL}:parametrized",
    "tests.models.custom:Adapter",
]


def generate_site(src: Path, totals: dict[str, int]) -> dict[tuple[str, int], str]:
    """25 pages of 20 directives; every fourth fails.  Returns {(file, line): subtype} of the failures."""
    (src / "conf.py").write_text(f"import sys\nsys.path.insert(0, {str(REPO)!r})\nextensions = ['sphinx_paramcount']\n")
    failing: dict[tuple[str, int], str] = {}
    pages = [f"page{p:02d}" for p in range(25)]
    (src / "index.rst").write_text("Site\n====\n\n.. toctree::\n\n" + "".join(f"   {p}\n" for p in pages))
    n = 0
    for page in pages:
        lines = [page.title(), "=" * len(page), ""]
        for _ in range(20):
            target = SCALE_TARGETS[n % len(SCALE_TARGETS)]
            fail = n % 4 == 3
            kind = (n // 4) % 4
            start = len(lines) + 1
            if not fail:
                options = [f":total: {totals[target]:,}"] if n % 3 else [":format: total"]
                lines += [f".. paramcount:: {target}", *(f"   {o}" for o in options)]
            elif kind == 0:
                lines += [f".. paramcount:: {target}", f"   :total: {totals[target] + n}"]
                failing[(f"{page}.rst", start)] = "mismatch"
            elif kind == 1:
                lines += [f".. paramcount:: tests.models.zoo:NoSuchModel{n}"]
                failing[(f"{page}.rst", start)] = "import"
            elif kind == 2:
                option = [":depth: -1", ":format: tabel", ":total: 12a", ":input-shape: 1, x"][n % 16 // 4]
                lines += [f".. paramcount:: {target}", f"   {option}"]
                failing[(f"{page}.rst", start)] = "option"
            else:
                lines += [f".. paramcount:: torch.nn.Linear({n}, "]
                failing[(f"{page}.rst", start)] = "target"
            lines += ["", f"Paragraph {n} after its directive.", ""]
            n += 1
        (src / f"{page}.rst").write_text("\n".join(lines) + "\n")
    assert n == 500
    return failing


def test_500_directives_over_30_targets_in_parallel(tmp_path):
    assert len(SCALE_TARGETS) == 30
    totals = {t: explain(t).total for t in SCALE_TARGETS}
    src = tmp_path / "src"
    src.mkdir()
    failing = generate_site(src, totals)
    assert len(failing) == 125 and set(failing.values()) == {"mismatch", "import", "option", "target"}

    result = sphinx_build(src, tmp_path / "out", "-j", "2")
    assert result.returncode == 1
    found = problems(result.stderr)
    assert len(found) == 125, result.stderr[-3000:]
    assert Counter((f, line) for f, line, _, _ in found) == Counter(list(failing))  # each failure exactly once
    assert {(f, line): sub for f, line, sub, _ in found} == failing
    assert "paramcount: 125 problems in the docs:" in result.stdout
    assert "Traceback" not in result.stderr

    # Every page was written, with every directive that can render and every paragraph.
    text = {p.stem: p.read_text() for p in (tmp_path / "out").glob("page*.html")}
    assert len(text) == 25
    soup = {k: BeautifulSoup(v, "html.parser") for k, v in text.items()}
    passing = [n for n in range(500) if n % 4 != 3]
    mismatched = [n for n in range(500) if n % 4 == 3 and (n // 4) % 4 == 0]  # still shows the real count
    # A bad option is reported, and the table still renders from the options that are usable.
    bad_option = [n for n in range(500) if n % 4 == 3 and (n // 4) % 4 == 2]
    totals_only = [n for n in passing if n % 3 == 0]
    assert sum(len(s.select("table.paramcount-table")) for s in soup.values()) == (
        len(passing) - len(totals_only) + len(mismatched) + len(bad_option)
    )
    assert sum(len(s.select("p.paramcount")) for s in soup.values()) == len(totals_only)
    assert all(f"Paragraph {n} after its directive." in text[f"page{n // 20:02d}"] for n in range(500))
    first = soup["page00"].select("table.paramcount-table")[0]
    assert check_table_adds_up(first)["Total"][1] == f"{totals['torch.nn.Linear(16, 8)']:,}"
