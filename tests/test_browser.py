"""The rendered docs in a real browser: MathJax typesets every formula, the table fits.

Builds docs/ with a local MathJax 3 (pages here cannot load a CDN), serves it
on localhost and opens it in headless Chromium.  Needs Debian's chromium and
chromium-driver, npm's mathjax@3 (``.ci/run`` installs all three) and
selenium; without them the test is skipped locally and fails in CI.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.tools import require

REPO = Path(__file__).resolve().parent.parent
MATHJAX = Path(os.environ.get("PARAMCOUNT_MATHJAX_DIR", REPO / ".ci" / "npm" / "node_modules" / "mathjax" / "es5"))
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
PAGES = ["index.html", "getting-started.html", "getting-started-myst.html", "gallery.html", "reference.html"]


def _require() -> None:
    missing = [str(p) for p in (MATHJAX / "tex-mml-chtml.js", Path(CHROMIUM), Path(CHROMEDRIVER)) if not p.exists()]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("selenium")
    require("browser test", missing)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    _require()
    src = tmp_path_factory.mktemp("docs")
    shutil.copytree(REPO / "docs", src, dirs_exist_ok=True, ignore=shutil.ignore_patterns("_build"))
    with (src / "conf.py").open("a") as conf:
        # A local MathJax: its es5 bundle goes into _static with the fonts it loads.
        conf.write(f"\nhtml_static_path = [{str(MATHJAX)!r}]\nmathjax_path = 'tex-mml-chtml.js'\n")
    out = tmp_path_factory.mktemp("html")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO / "ext"), str(REPO)]))
    build = subprocess.run(
        [sys.executable, "-m", "sphinx", "-q", "-b", "html", str(src), str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert build.returncode == 0, build.stderr
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(out))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    handler.log_message = lambda *a: None  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


# Every documented paramcount_thousands_sep, each a build of tests/roots/test-output-names.
SEPARATORS = [",", "_", " ", "\u202f", "'", ".", ""]


def build_with_local_mathjax(root: str, out: Path, *options: str) -> None:
    """Build ``tests/roots/test-ROOT`` as HTML into ``out``, loading the local MathJax (no CDN here)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO / "ext"), str(REPO)]))
    build = subprocess.run(
        [
            *(sys.executable, "-m", "sphinx", "-q", "-b", "html", *options),
            *("-D", f"html_static_path={MATHJAX}", "-D", "mathjax_path=tex-mml-chtml.js"),
            *(str(REPO / "tests" / "roots" / root), str(out)),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    assert build.returncode == 0, build.stderr


@pytest.fixture(scope="module")
def names_site(tmp_path_factory):
    """Parameter names with LaTeX's special characters, built once per separator."""
    _require()
    out = tmp_path_factory.mktemp("names")
    for i, sep in enumerate(SEPARATORS):
        build_with_local_mathjax(
            "test-output-names",
            out / f"sep-{i}",
            "-d",
            str(out / f"doctrees-{i}"),
            "-D",
            f"paramcount_thousands_sep={sep}",
        )
    yield from _serve(out)


def _serve(directory: Path):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    handler.log_message = lambda *a: None  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def browser():
    _require()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,900",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def _typeset(driver, url: str) -> dict:
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(url)
    WebDriverWait(driver, 60).until(
        lambda d: d.execute_script(
            "return !!(window.MathJax && MathJax.startup && MathJax.startup.promise)"
            " && document.readyState === 'complete'"
        )
    )
    driver.execute_async_script("const done = arguments[0]; MathJax.startup.promise.then(() => done(true));")
    return driver.execute_script(
        """
        const cells = [...document.querySelectorAll('table.paramcount-table .math')];
        return {
          formulas: cells.length,
          typeset: cells.filter(c => c.querySelector('mjx-container')).length,
          errors: document.querySelectorAll('mjx-merror').length,
          raw: cells.filter(c => c.textContent.includes('\\\\(')).length,
        };
        """
    )


@pytest.mark.parametrize("page", PAGES)
def test_every_formula_cell_is_typeset_without_errors(site, browser, page):
    result = _typeset(browser, f"{site}/{page}")
    if page in ("index.html", "getting-started.html", "getting-started-myst.html"):
        assert result["formulas"] >= 7  # SimpleNet: 3 rows x 2 formulas + the total's sum
    assert result["typeset"] == result["formulas"], result
    assert result["errors"] == 0
    assert result["raw"] == 0


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_table_fits_or_scrolls_on_a_phone_and_themes_apply(site, browser, scheme, tmp_path):
    browser.set_window_size(390, 844)
    _typeset(browser, f"{site}/getting-started.html")
    browser.execute_script(f"document.body.dataset.theme = '{scheme}';")
    layout = browser.execute_script(
        """
        const table = document.querySelector('table.paramcount-table');
        let box = table;  // the nearest ancestor that scrolls horizontally, if any
        while (box && !['auto', 'scroll'].includes(getComputedStyle(box).overflowX)) box = box.parentElement;
        const bar = document.querySelector('.paramcount-bar');
        return {
          viewport: window.innerWidth,
          page: document.documentElement.scrollWidth,
          table: table.getBoundingClientRect().width,
          scroller: box ? box.clientWidth : null,
          barWidth: bar.getBoundingClientRect().width,
          bg: getComputedStyle(document.body).backgroundColor,
          ink: getComputedStyle(table).color,
        };
        """
    )
    browser.execute_script(
        "document.querySelector('table.paramcount-table').scrollIntoView({behavior: 'instant', block: 'start'});"
    )
    out = Path(os.environ.get("PARAMCOUNT_SCREENSHOTS", tmp_path))
    out.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(out / f"getting-started-390px-{scheme}.png"))
    # The page itself never scrolls sideways: the table fits, or scrolls in its own box.
    assert layout["page"] <= layout["viewport"], layout
    assert layout["table"] <= layout["viewport"] or (layout["scroller"] and layout["scroller"] <= layout["viewport"])
    assert layout["barWidth"] > 0
    # furo's dark mode reaches our table: its text turns light.
    r, g, b = (int(v) for v in layout["ink"][layout["ink"].index("(") + 1 : -1].split(",")[:3])
    assert (scheme == "dark") == ((r + g + b) / 3 > 128), layout


@pytest.mark.parametrize(
    "i", range(len(SEPARATORS)), ids=["comma", "underscore", "space", "nnbsp", "quote", "dot", "none"]
)
def test_odd_names_and_every_separator_typeset_without_errors(names_site, browser, i):
    _typeset(browser, f"{names_site}/sep-{i}/index.html")
    result = browser.execute_script(
        """
        const maths = [...document.querySelectorAll('.math')];
        return {
          formulas: maths.length,
          typeset: maths.filter(m => m.querySelector('mjx-container')).length,
          errors: document.querySelectorAll('mjx-merror').length,
          // What MathJax made of the names: its assistive MathML holds the characters.
          names: maths.map(m => m.querySelector('mjx-assistive-mml')?.textContent || '').join(' '),
        };
        """
    )
    assert result["formulas"] >= 20, result
    assert result["typeset"] == result["formulas"], result
    assert result["errors"] == 0, result
    for name in ("50%", "a&b", "x_y", "{k}", "$#", "é"):
        assert name in result["names"], (name, result["names"][:500])


# -- five real models: the count columns in view (issue 12) ----------------------------------

THEMES = ["alabaster", "furo"]
MODELS = ["simplenet", "resnet50", "vit-b-16", "gpt2", "llama-2-7b"]


@pytest.fixture(scope="module")
def readable_site(tmp_path_factory):
    """tests/roots/test-readable-browser built once per theme, with the local MathJax."""
    _require()
    out = tmp_path_factory.mktemp("readable")
    for theme in THEMES:
        build_with_local_mathjax("test-readable-browser", out / theme, "-D", f"html_theme={theme}")
    yield from _serve(out)


# Where each table's cells sit relative to the window and to the box the table scrolls in.
_MEASURE = """
const table = document.getElementById(arguments[0]);
table.scrollIntoView({behavior: 'instant', block: 'start'});
let box = table.parentElement;
while (box && !['auto', 'scroll'].includes(getComputedStyle(box).overflowX)) box = box.parentElement;
// The box's scrollport: inside its borders, without its scrollbar.
const outer = box ? box.getBoundingClientRect() : {left: 0};
const view = box ? {left: outer.left + box.clientLeft, right: outer.left + box.clientLeft + box.clientWidth}
                 : {left: 0, right: window.innerWidth};
const heads = [...table.querySelectorAll('thead th')].map(th => th.textContent.trim());
const col = name => heads.indexOf(name);
const rows = [...table.querySelectorAll('tr')].map(tr => [...tr.children]);
const rect = cell => { const r = cell.getBoundingClientRect(); return [r.left, r.right]; };
return {
  window: window.innerWidth,
  page: document.documentElement.scrollWidth,
  scrolled: box ? box.scrollLeft : 0,
  boxScrolls: box ? box.scrollWidth > box.clientWidth : false,
  view: [Math.max(view.left, 0), Math.min(view.right, window.innerWidth)],
  names: rows.map(r => rect(r[0])),
  counts: rows.map(r => rect(r[col('Parameters')])),
  shares: rows.map(r => rect(r[col('Share')])),
  clipped: rows.flatMap(r => [r[col('Parameters')], r[col('Share')]])
    .filter(c => c.scrollWidth > c.clientWidth + 1).map(c => c.textContent),
  texts: rows.map(r => r[col('Parameters')].textContent.trim()),
  // Cells drawn over their neighbour before any scrolling (a pinned column covering a formula).
  overlaps: rows.flatMap(r => r.slice(1).filter((c, i) => rect(c)[0] < rect(r[i])[1] - 0.5))
    .map(c => c.textContent.trim().slice(0, 40)),
};
"""


def _inside(cells: list, view: list) -> list:
    """The cells (left, right) not wholly inside the visible part of the box."""
    left, right = view
    return [c for c in cells if c[0] < left - 0.5 or c[1] > right + 0.5]


@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("model", MODELS)
def test_count_columns_fully_visible_at_1280px(readable_site, browser, theme, model, tmp_path):
    browser.set_window_size(1280, 900)
    _typeset(browser, f"{readable_site}/{theme}/index.html")
    layout = browser.execute_script(_MEASURE, model)
    out = Path(os.environ.get("PARAMCOUNT_SCREENSHOTS", tmp_path))
    out.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(out / f"{model}-{theme}-1280px.png"))
    assert layout["page"] <= layout["window"], layout  # the page never scrolls sideways
    assert layout["scrolled"] == 0
    # Every count and share cell lies inside the visible part of the table's box, unclipped.
    assert _inside(layout["counts"], layout["view"]) == [], layout
    assert _inside(layout["shares"], layout["view"]) == [], layout
    assert layout["clipped"] == [], layout
    assert layout["overlaps"] == [], layout["overlaps"]
    assert layout["texts"][0] == "Parameters" and layout["texts"][-1].replace(",", "").isdigit()


@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("model", ["resnet50", "gpt2", "llama-2-7b"])
def test_names_and_counts_read_together_at_390px(readable_site, browser, theme, model, tmp_path):
    browser.set_window_size(390, 844)
    _typeset(browser, f"{readable_site}/{theme}/index.html")
    layout = browser.execute_script(_MEASURE, model)
    out = Path(os.environ.get("PARAMCOUNT_SCREENSHOTS", tmp_path))
    out.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(out / f"{model}-{theme}-390px.png"))
    assert layout["page"] <= layout["window"], layout
    assert layout["boxScrolls"], layout  # the formulas scroll in the table's own box
    # Each row's name and count are both on screen, side by side, before any scrolling.
    assert _inside(layout["names"], layout["view"]) == [], {k: layout[k] for k in ("view", "window", "names")}
    assert _inside(layout["counts"], layout["view"]) == [], {k: layout[k] for k in ("view", "window", "counts")}
    assert layout["clipped"] == [], layout
    assert layout["overlaps"] == [], layout["overlaps"]
