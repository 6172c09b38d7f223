"""``:symbols:`` and ``:formula:`` in a docs build, reST and MyST: the whole model's formula, checked."""

from __future__ import annotations

from bs4 import BeautifulSoup

from tests.test_reliability import ROOTS
from tests.test_trust_sphinx import problems, sphinx_build

SEED = "tests.models.seed:SimpleNet"
GPT2 = "transformers.AutoModelForCausalLM.from_config(transformers.GPT2Config(n_layer=2))"


def test_symbols_and_stated_formulas(tmp_path):
    build = sphinx_build(ROOTS / "test-symbols", tmp_path / "out")
    assert build.returncode == 1, build.stderr
    # The end-of-build summary (with the subtype on every Sphinx); the hints are in the log lines.
    found = problems(build)
    assert build.stderr.count("(a formula is the author's to correct: 'update' rewrites stated numbers only)") == 2
    assert found == [
        (
            "index.rst",
            17,
            "mismatch",
            f"stated formula L*(4*d**2 + 2*d*d_ff + d_ff) + P*d + V*d gives 53,545,728 for {GPT2}, but the model "
            "has 53,561,088: the model has 9*L*d + 2*d more than the stated formula (15,360)",
        ),
        (
            "index.rst",
            21,
            "option",
            f"{SEED}: :symbols: Z=7 matches no number of the model",
        ),
        (
            "index.rst",
            21,
            "option",
            f"{SEED}: :formula: uses 'x', which :symbols: does not bind",
        ),
        (
            "index.rst",
            25,
            "option",
            f"{SEED}: :formula: needs :symbols:, the symbols it is written in",
        ),
        (
            "myst.md",
            8,
            "mismatch",
            f"stated formula 3*C*k**2 + 4099*F gives 131,600 for {SEED}, but the model has 131,618: "
            "the model has C + 2 more than the stated formula (18)",
        ),
    ]
    soup = BeautifulSoup((tmp_path / "out" / "index.html").read_text(), "html.parser")
    formulas = [p.get_text(" ", strip=True) for p in soup.select("p.paramcount-formula")]
    assert formulas[0] == r"The whole model: \(N = 3\,C\,k^{2} + C + 4099\,F + 2 = 131{,}618\)"
    assert formulas[1] == (
        r"The whole model: \(N = L\,\left(4\,d^{2} + 2\,d\,d_{ff} + 9\,d + d_{ff}\right) + P\,d + V\,d + 2\,d"
        r" = 53{,}561{,}088\)"
    )
    # The rows' formulas are written in the symbols; their derivations keep the numbers.
    first = soup.select("table.paramcount-table")[0]
    cells = [[c.get_text(" ", strip=True) for c in tr.find_all(["td", "th"])] for tr in first.find_all("tr")]
    conv1 = next(r for r in cells if r and r[0] == "conv1")
    assert r"\(3\,C\,k^{2} + C\)" in conv1 and r"\(16 \times 3 \times 3 \times 3 + 16\)" in conv1
    myst = BeautifulSoup((tmp_path / "out" / "myst.html").read_text(), "html.parser")
    assert [p.get_text(" ", strip=True) for p in myst.select("p.paramcount-formula")][0] == formulas[0]


def test_update_lists_wrong_formulas_as_problems_and_leaves_them(tmp_path):
    import shutil
    import subprocess
    import sys

    src = tmp_path / "src"
    shutil.copytree(ROOTS / "test-symbols", src)
    before = {p.name: p.read_text() for p in src.glob("*.*")}
    env = {**__import__("os").environ, "PYTHONPATH": f"{ROOTS.parent.parent / 'ext'}:{ROOTS.parent.parent}"}
    run = subprocess.run(
        [sys.executable, "-m", "sphinx_paramcount", "update", "--write", str(src)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert run.returncode == 1, run.stderr
    assert "index.rst:17: [mismatch] stated formula L*(4*d**2 + 2*d*d_ff + d_ff) + P*d + V*d gives" in run.stderr
    assert "myst.md:8: [mismatch] stated formula 3*C*k**2 + 4099*F gives 131,600" in run.stderr
    assert run.stderr.rstrip().endswith("0 stated numbers updated, 4 problems (above)")
    assert {p.name: p.read_text() for p in src.glob("*.*")} == before  # nothing the author wrote is changed
