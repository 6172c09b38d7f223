"""The speed and memory benchmark: whole-process wall time and peak RSS, side by side.

    PYTHONPATH=ext python benchmarks/run.py [--quick]

Every measurement runs in a fresh interpreter, so its wall time includes
starting Python and ``import torch``, and its peak RSS is that process's own
(``os.wait4``).  Parts:

1. Counting one model: the engine (the ``sphinx-paramcount`` command line,
   counting and rendering) against a naive CPU build plus ``sum(numel)``,
   ``torchinfo.summary``, fvcore's ``parameter_count_table``, and the physical
   floor: a bare ``with torch.device("meta")`` build plus ``sum(numel)``.
2. The engine against that floor after warm-up (repeated in one process).
3. ``sphinx-build`` of a generated 50-page site with 200 directives over 10
   models, against the same site with each directive replaced by a paragraph
   stating the number; serial and ``-j auto``; plus a no-change rebuild.
4. ``sphinx-paramcount update --check`` of the same 200-directive site against
   ``sphinx-build`` of it (target: within 1.5x, each model built once).
5. Formula coverage (not timed): per real architecture, the share
   of parameters in rows with neither a named formula nor a legend.
6. Compute: the command line's compute table (``--compute``) of each model
   at a fixed input, the 70B decoder at 4,096 tokens (target: < 10 s, < 1 GB),
   against a bare ``FlopCounterMode`` pass on meta, and the totals fvcore,
   ptflops (both backends), thop and calflops give, where installed.

The script imports neither torch nor the engine itself: only its workers do.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
EXT = ROOT / "ext"

MODELS = ["SimpleNet", "ResNet50", "GPT2Small", "Llama2_70B"]
TOOLS = ["engine", "meta floor", "naive cpu", "torchinfo", "fvcore"]
CPU_TOOLS = ("naive cpu", "torchinfo", "fvcore")
PARTS = ["count", "warm", "site", "update", "coverage", "compute"]

# The compute part: each model's input (shape, dtype) and the other tools it runs.
COMPUTE_INPUTS = {
    "SimpleNet": ("1,3,32,32", "float32"),
    "ResNet50": ("1,3,224,224", "float32"),
    "GPT2Small": ("1,1024", "int64"),
    "Llama2_70B": ("1,4096", "int64"),
}
COMPUTE_TOOLS = ["fvcore", "ptflops pytorch", "ptflops aten", "thop", "calflops"]

# The site's ten targets: three models of benchmarks/models.py and seven torch.nn calls.
SITE_TARGETS = [
    "benchmarks.models:SimpleNet",
    "benchmarks.models:ResNet50",
    "benchmarks.models:GPT2Small",
    "torch.nn.Linear(512, 512)",
    "torch.nn.Linear(512, 2048, bias=False)",
    "torch.nn.Conv2d(16, 8, kernel_size=3, padding=1)",
    "torch.nn.LSTM(256, 512, num_layers=2)",
    "torch.nn.TransformerEncoderLayer(512, 8)",
    "torch.nn.MultiheadAttention(512, 8)",
    "torch.nn.Embedding(32000, 512)",
]
PAGES = 50
DIRECTIVES_PER_PAGE = 4
MANY_PAGES = 200  # the -j auto comparison also runs at this size, where reading dominates less

GB = 1e9  # decimal units throughout: GB, MB


# -- measuring a process --------------------------------------------------------------


@dataclass
class Run:
    wall: float  # seconds
    rss: int  # peak resident set size, bytes
    code: int  # exit status; negative: killed by that signal
    out: str
    err: str
    cpu: float = 0.0  # user + system CPU seconds: what a loaded machine's wall time hides

    def json(self) -> dict:
        """The output parsed: the command line's whole JSON, or a worker's last line."""
        try:
            return json.loads(self.out)
        except json.JSONDecodeError:
            lines = self.out.strip().splitlines()
            return json.loads(lines[-1]) if lines else {}


def environment() -> dict[str, str]:
    env = dict(os.environ)
    paths = [str(EXT), str(ROOT)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    # As on a user's machine: Python caches compiled modules.  Some sandboxes and
    # CI images turn that off, and then every run recompiles our modules (the
    # installed torch and Sphinx keep their caches), about 30 ms per process.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def measure(
    argv: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    limit_bytes: int | None = None,
    timeout: float = 900,
) -> Run:
    """Run ``argv`` to completion; its wall time and its own peak RSS (``wait4``)."""
    preexec: Callable[[], None] | None = None
    if limit_bytes is not None:

        def preexec() -> None:  # a bounded attempt: MemoryError, not the OOM killer
            resource.setrlimit(resource.RLIMIT_AS, (limit_bytes, limit_bytes))

    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(list(argv), stdout=out, stderr=err, env=env or environment(), preexec_fn=preexec)
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        out.seek(0)
        err.seek(0)
        return Run(
            wall,
            usage.ru_maxrss * 1024,  # KiB on Linux
            proc.returncode,
            out.read().decode(errors="replace"),
            err.read().decode(errors="replace"),
            usage.ru_utime + usage.ru_stime,
        )


def mem_available() -> int:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no MemAvailable in /proc/meminfo")


def worker(*args: str) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), "--worker", *args]


# -- the workers (each runs in its own fresh process) ---------------------------------


def _resolve(target: str):  # -> a class or factory; torch types stay out of the parent
    import importlib

    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def work_count(tool: str, target: str) -> dict:
    """Count one model as ``tool`` does; the last line printed is JSON."""
    import torch

    factory = _resolve(target)
    try:
        if tool == "meta floor":
            with torch.device("meta"):
                model = factory()
            return {"total": sum(p.numel() for p in model.parameters())}
        model = factory()
        if tool == "naive cpu":
            return {"total": sum(p.numel() for p in model.parameters())}
        if tool == "torchinfo":
            from torchinfo import summary

            stats = summary(model, verbose=0)
            str(stats)  # the rendered table, as a user would print it
            return {"total": int(stats.total_params)}
        if tool == "fvcore":
            from fvcore.nn import parameter_count, parameter_count_table

            parameter_count_table(model)
            return {"total": int(parameter_count(model)[""])}
    except (MemoryError, RuntimeError) as exc:  # torch's CPU allocator raises RuntimeError
        if isinstance(exc, MemoryError) or "alloc" in str(exc):
            text = str(exc).splitlines()[0]
            return {"oom": f"{type(exc).__name__}: {text.rpartition('DefaultCPUAllocator: ')[2].partition(':')[0]}"}
        raise
    raise SystemExit(f"unknown tool {tool!r}")


def work_warm(targets: list[str], repeats: int) -> dict:
    """In one process, after one warm-up call each: the engine vs the meta floor, interleaved."""
    import torch

    from sphinx_paramcount import render
    from sphinx_paramcount.api import explain
    from sphinx_paramcount.views import collapse_repeats

    def rendered(target: str) -> int:
        report = explain(target)
        render.to_json(report, collapse_repeats(report, report.rows))
        return report.total

    def floor(target: str) -> int:
        factory = _resolve(target)
        with torch.device("meta"):
            model = factory()
        return sum(p.numel() for p in model.parameters())

    out = {}
    for target in targets:
        assert rendered(target) == floor(target), target
        times: dict[str, list[float]] = {"explain": [], "rendered": [], "floor": []}
        for _ in range(repeats):
            for name, fn in (("explain", explain), ("rendered", rendered), ("floor", floor)):
                start = time.perf_counter()
                fn(target)
                times[name].append(time.perf_counter() - start)
        out[target] = {k: min(v) for k, v in times.items()}  # best of: the cost without the machine's noise
    return out


def work_totals(targets: list[str]) -> dict:
    """The true count of each target, from a bare meta build (not the engine)."""
    import torch

    from benchmarks.models import EXPECTED

    out = {}
    for target in targets:
        with torch.device("meta"):
            if ":" in target:
                model = _resolve(target)()
            else:  # our own constant call text
                model = eval(target, {"torch": torch})
        out[target] = sum(p.numel() for p in model.parameters())
        name = target.partition(":")[2]
        if target.startswith("benchmarks.models:") and out[target] != EXPECTED[name]:
            raise SystemExit(f"{name} has {out[target]:,} parameters, not the {EXPECTED[name]:,} it should")
    return out


def work_import_torch() -> dict:
    start = time.perf_counter()
    import torch  # noqa: F401

    return {"seconds": time.perf_counter() - start}


def work_coverage() -> list:
    from tests.models.real_layouts import coverage_table

    return coverage_table()


def work_compute(tool: str, target: str, shape_text: str, dtype_name: str, device: str) -> dict:
    """One forward pass's MACs as ``tool`` counts them; the last line printed is JSON.

    ``naive`` is the bare way: a meta build and ``FlopCounterMode`` around the
    call, no rows, no formulas.  The other tools run on a model built on
    ``device`` (CPU where it fits, else meta), in eval mode without grad, on
    zeros of the input.  ``macs`` is the tool's figure in MACs (calflops gives
    both); ``detail`` is the tool's own breakdown, where it gives one cheaply.
    """
    import importlib.util

    if tool != "naive" and importlib.util.find_spec(tool.split()[0]) is None:
        return {"missing": "not installed"}
    import torch

    shape = tuple(int(s) for s in shape_text.split(","))
    dtype = getattr(torch, dtype_name)
    factory = _resolve(target)
    if tool == "naive":
        from torch.utils.flop_counter import FlopCounterMode

        from benchmarks.models import EXPECTED_MACS

        with torch.device("meta"):
            model = factory()
        x = torch.zeros(shape, dtype=dtype, device="meta")
        with FlopCounterMode(display=False) as counter:
            model(x)
        return {"macs": counter.get_total_flops() // 2, "expected": EXPECTED_MACS[target.partition(":")[2]]}
    with torch.device(device):
        model = factory()
    model.eval()
    x = torch.zeros(shape, dtype=dtype, device=device)
    try:
        with torch.no_grad():
            return _tool_macs(tool, model, x)
    except Exception as exc:  # the tool's own failure is a result, not the benchmark's
        return {"failed": f"{type(exc).__name__}: {str(exc).splitlines()[0][:120] if str(exc) else ''}"}


def _tool_macs(tool: str, model, x) -> dict:
    import inspect

    if tool == "fvcore":
        from fvcore.nn import FlopCountAnalysis

        analysis = FlopCountAnalysis(model, (x,))
        analysis.unsupported_ops_warnings(False)
        analysis.uncalled_modules_warnings(False)
        total = int(analysis.total())
        skipped = sorted(op.removeprefix("aten::") for op in analysis.unsupported_ops())
        by_op = ", ".join(f"{op} {n:,}" for op, n in analysis.by_operator().items() if n)
        return {"macs": total, "reports": "flops", "detail": f"{by_op}; not counted: {', '.join(skipped) or '-'}"}
    if tool.startswith("ptflops"):
        from ptflops import get_model_complexity_info

        backend = tool.split()[1]
        extra = {}
        if "backend" in inspect.signature(get_model_complexity_info).parameters:
            extra["backend"] = backend
        elif backend != "pytorch":
            return {"missing": "this ptflops has no backend= (one backend only)"}
        macs, _ = get_model_complexity_info(
            model,
            tuple(x.shape[1:]),
            input_constructor=lambda _res: x,
            as_strings=False,
            print_per_layer_stat=False,
            **extra,
        )
        if macs is None:  # ptflops catches the model's exception, prints it and returns None
            return {"failed": "ptflops returned None (it printed the exception)"}
        return {"macs": int(macs), "reports": "MACs"}
    if tool == "thop":
        from thop import profile

        macs, _, layers = profile(model, inputs=(x,), verbose=False, ret_layer_info=True)
        by_type: dict[str, int] = {}

        def leaves(tree: dict, prefix: str) -> None:
            for name, (ops, _params, children) in tree.items():
                if children:
                    leaves(children, f"{prefix}{name}.")
                elif ops:
                    kind = type(model.get_submodule(prefix + name)).__name__
                    by_type[kind] = by_type.get(kind, 0) + int(ops)

        leaves(layers, "")
        return {"macs": int(macs), "reports": "MACs", "detail": ", ".join(f"{k} {n:,}" for k, n in by_type.items())}
    if tool == "calflops":
        from calflops import calculate_flops

        flops, macs, _ = calculate_flops(
            model, args=[x], output_as_string=False, print_results=False, print_detailed=False
        )
        return {"macs": int(macs), "flops": int(flops), "reports": "FLOPs and MACs"}
    raise SystemExit(f"unknown tool {tool!r}")


def run_worker(args: list[str]) -> None:
    kind, rest = args[0], args[1:]
    if kind == "count":
        result = work_count(rest[0], rest[1])
    elif kind == "warm":
        result = work_warm(rest[1:], int(rest[0]))
    elif kind == "totals":
        result = work_totals(rest)
    elif kind == "import-torch":
        result = work_import_torch()
    elif kind == "coverage":
        result = work_coverage()
    elif kind == "compute":
        result = work_compute(*rest)
    else:
        raise SystemExit(f"unknown worker {kind!r}")
    print(json.dumps(result))


def true_counts(targets: list[str]) -> dict[str, int]:
    run = measure(worker("totals", *targets))
    if run.code != 0:
        raise SystemExit(f"totals worker failed:\n{run.err}")
    return run.json()


# -- part 1: counting one model -------------------------------------------------------


@dataclass
class Cell:
    """One tool on one model: medians over the repeats, or why it did not run."""

    wall: float | None = None
    rss: int | None = None
    total: int | None = None
    note: str = ""


def count_cell(tool: str, model: str, expected: int, repeats: int, try_oom: bool, progress: Progress) -> Cell:
    target = f"benchmarks.models:{model}"
    if tool == "engine":
        argv = [sys.executable, "-m", "sphinx_paramcount", target, "--format", "json"]
    else:
        argv = worker("count", tool, target)
    limit = None
    if tool in CPU_TOOLS:
        needs = expected * 4  # float32
        available = mem_available()
        if needs > 0.8 * available:
            note = f"out of memory (needs ~{needs / GB:.0f} GB, {available / GB:.0f} GB available)"
            if not try_oom:
                return Cell(note=note + "; not tried (--quick)")
            # One bounded attempt, to show it fails rather than assume it.
            limit, repeats = int(0.5 * available), 1
    runs = []
    for _ in range(repeats):
        progress(f"{model}: {tool}")
        run = measure(argv, limit_bytes=limit)
        runs.append(run)
        if run.code != 0:
            break
    last = runs[-1]
    if last.code != 0 or "oom" in last.json():
        return Cell(last.wall, last.rss, None, failure(last, expected, limit))
    totals = {r.json()["total"] for r in runs}
    total = totals.pop()
    note = "" if total == expected and not totals else f"WRONG total (true {expected:,})"
    return Cell(statistics.median(r.wall for r in runs), int(statistics.median(r.rss for r in runs)), total, note)


def failure(run: Run, expected: int, limit: int | None) -> str:
    needs = f"needs ~{expected * 4 / GB:.0f} GB"
    bound = f" under a {limit / GB:.0f} GB address-space limit" if limit else ""
    if run.code < 0:
        return f"killed by signal {-run.code}{bound} ({needs}; out of memory?)"
    if run.code == 0 and "oom" in run.json():
        return f"out of memory ({needs}): {run.json()['oom']}{bound}"
    tail = (run.err.strip().splitlines() or ["?"])[-1]
    return f"failed (exit {run.code}): {tail[:100]}"


def part_counting(models: list[str], expected: dict[str, int], repeats: int, try_oom: bool, progress: Progress):
    cells: dict[tuple[str, str], Cell] = {}
    for model in models:
        for tool in TOOLS:
            cells[model, tool] = count_cell(tool, model, expected[model], repeats, try_oom, progress)
    return cells


def print_counting(models: list[str], cells: dict[tuple[str, str], Cell], repeats: int) -> None:
    print(
        f"\n1. Counting one model: a fresh process each (wall includes Python start-up and import torch), median of {repeats}"
    )
    header = (
        f"{'model':<11} {'tool':<11} {'wall s':>7} {'peak RSS':>9} {'wall/eng':>8} {'RSS/eng':>7}  {'total':>15}  note"
    )
    print(header)
    print("-" * len(header))
    for model in models:
        engine = cells[model, "engine"]
        for i, tool in enumerate(TOOLS):
            c = cells[model, tool]
            name = model if i == 0 else ""
            if c.total is None:  # did not run, or the wall and RSS until it failed
                wall = "-" if c.wall is None else f"({c.wall:.1f})"
                rss = "-" if c.rss is None else f"({mb(c.rss)})"
                print(f"{name:<11} {tool:<11} {wall:>7} {rss:>9} {'-':>8} {'-':>7}  {'-':>15}  {c.note}")
                continue
            wr = c.wall / engine.wall if engine.wall else float("nan")
            rr = c.rss / engine.rss if engine.rss else float("nan")
            print(f"{name:<11} {tool:<11} {c.wall:7.2f} {mb(c.rss):>9} {wr:8.2f} {rr:7.2f}  {c.total:>15,}  {c.note}")
        floor = cells[model, "meta floor"]
        if engine.wall and floor.wall:
            print(f"{'':<11} {'':<11} engine / meta floor, cold: {engine.wall / floor.wall:.2f}x wall")


def mb(n: int | None) -> str:
    if n is None:
        return "-"
    return f"{n / GB:.1f} GB" if n >= 10 * GB else f"{n / 1e6:.0f} MB"


# -- part 2: warm engine vs floor -----------------------------------------------------


def part_warm(models: list[str], repeats: int, progress: Progress) -> dict[str, dict[str, float]]:
    progress("warm: engine vs meta floor in one process")
    targets = [f"benchmarks.models:{m}" for m in models]
    run = measure(worker("warm", str(repeats), *targets))
    if run.code != 0:
        raise SystemExit(f"warm worker failed:\n{run.err}")
    return {t.partition(":")[2]: v for t, v in run.json().items()}


def print_warm(warm: dict[str, dict[str, float]], repeats: int) -> None:
    print(
        f"\n2. After warm-up, in one process: explain() (and explain + JSON rendering) vs the meta floor, "
        f"best of {repeats}"
    )
    print(f"{'model':<11} {'explain ms':>10} {'+render ms':>10} {'floor ms':>9} {'ratio':>6} {'+render':>7}  <= 1.5x")
    for model, t in warm.items():
        ratio, with_render = t["explain"] / t["floor"], t["rendered"] / t["floor"]
        print(
            f"{model:<11} {t['explain'] * 1e3:10.2f} {t['rendered'] * 1e3:10.2f} {t['floor'] * 1e3:9.2f}"
            f" {ratio:6.2f} {with_render:7.2f}  {verdict(ratio <= 1.5)}"
        )


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


# -- part 3: the Sphinx site ----------------------------------------------------------


CONF = """\
import os
import sys

sys.path[:0] = {paths!r}
project = "paramcount benchmark"
extensions = {extensions!r}

# The benchmark's probe: documents read, models built (from every process,
# parallel readers included) and whether torch was imported at all.
_LOG = os.environ.get("PARAMCOUNT_BENCH_LOG")


def _note(line):
    with open(_LOG, "a") as f:
        f.write(line + "\\n")


def setup(app):
    if not _LOG:
        return
    app.connect("env-before-read-docs", lambda app, env, docnames: _note(f"read {{len(docnames)}}"))
    app.connect("build-finished", lambda app, exc: _note(f"torch {{'torch' in sys.modules}}"))
    if extensions:
        import sphinx_paramcount.cache as cache

        # What the cache calls to build a model (parameters, and compute): every build is logged.
        for name in ("count_target", "compute_target"):
            build = getattr(cache, name)

            def counted(*args, _build=build, **kwargs):
                _note(f"build {{os.getpid()}} {{args[0]}}")
                return _build(*args, **kwargs)

            setattr(cache, name, counted)
"""

PROSE = (
    "This page documents one part of the model zoo: what each network is for, how it is wired, "
    "and how many parameters it has. The counts below are the numbers a reader checks against "
    "a checkpoint or a paper; they must agree with the code."
)

# site name -> how each of the 200 places states a count
SITES = {
    "static": "a paragraph stating the number",
    "directive": ".. paramcount:: with :total: (the default table)",
    "directive, :format: total": "the same with :format: total (the number, no table)",
}
MODES = {"serial": None, "-j auto": "auto"}


def write_site(root: Path, totals: dict[str, int], site: str, pages: int = PAGES) -> None:
    directives = site != "static"
    root.mkdir(parents=True)
    (root / "conf.py").write_text(
        CONF.format(paths=[str(EXT), str(ROOT)], extensions=["sphinx_paramcount"] if directives else [])
    )
    names = [f"page_{i:03d}" for i in range(pages)]
    toc = "\n".join(f"   {n}" for n in names)
    (root / "index.rst").write_text(f"Model zoo\n=========\n\n{PROSE}\n\n.. toctree::\n   :maxdepth: 1\n\n{toc}\n")
    n = 0
    for page, name in enumerate(names):
        title = f"Page {page}: parameter counts"
        parts = [f"{title}\n{'=' * len(title)}\n\n{PROSE}\n"]
        for _ in range(DIRECTIVES_PER_PAGE):
            target = SITE_TARGETS[n % len(SITE_TARGETS)]
            n += 1
            heading = f"Section {n}"
            if not directives:
                body = f"``{target}`` has {totals[target]:,} parameters."
            else:
                body = f".. paramcount:: {target}\n   :total: {totals[target]}"
                if site.endswith(":format: total"):
                    body += "\n   :format: total"
            parts.append(f"{heading}\n{'-' * len(heading)}\n\n{PROSE}\n\n{body}\n")
        (root / f"{name}.rst").write_text("\n".join(parts))


@dataclass
class SiteBuild:
    wall: float
    rss: int
    read: int  # documents read
    builds: int  # models built, all processes together
    processes: int  # processes that built a model
    torch: bool  # whether the main process imported torch


def sphinx_build(src: Path, out: Path, jobs: str | None, log: Path) -> SiteBuild:
    log.write_text("")
    env = environment()
    env["PARAMCOUNT_BENCH_LOG"] = str(log)
    argv = [sys.executable, "-m", "sphinx", "-b", "html", "-q", *(["-j", jobs] if jobs else []), str(src), str(out)]
    run = measure(argv, env=env)
    if run.code != 0 or run.err.strip():
        raise SystemExit(f"sphinx-build {src.name} failed (exit {run.code}):\n{run.err[-3000:]}")
    notes = [line.split(" ", 2) for line in log.read_text().splitlines()]
    builds = [n for n in notes if n[0] == "build"]
    return SiteBuild(
        run.wall,
        run.rss,
        sum(int(n[1]) for n in notes if n[0] == "read"),
        len(builds),
        len({n[1] for n in builds}),
        ["torch", "True"] in notes,
    )


@dataclass
class SiteResult:
    builds: list[SiteBuild] = field(default_factory=list)  # from an empty output directory
    rebuilds: list[SiteBuild] = field(default_factory=list)  # no-change, on top of a build

    def wall(self, step: str) -> float:
        return statistics.median(b.wall for b in getattr(self, step))


def part_site(totals: dict[str, int], repeats: int, rebuilds: int, progress: Progress) -> dict:
    # Each round times one import torch and every variant, back to back, and the
    # ratios are taken within a round: this machine's speed drifts by up to 30%
    # over minutes, and a ratio of figures from different minutes measures that.
    #
    # "One import torch" is what importing torch adds to a process's wall time:
    # ``python -c "import torch"`` minus ``python -c "pass"``.  That includes the
    # interpreter's teardown of torch's objects at exit (about 0.3 s), which any
    # process that imports torch pays.  The in-process import alone is printed too.
    imports: list[float] = []
    in_process: list[float] = []
    results: dict[tuple[str, str], SiteResult] = {}
    variants = [(s, m) for m in MODES for s in SITES if m == "serial" or s != "directive, :format: total"]
    with tempfile.TemporaryDirectory(prefix="paramcount-bench-") as tmp:
        base = Path(tmp)
        for i, site in enumerate(SITES):
            write_site(base / f"site{i}", totals, site)
        for i in range(repeats):
            progress(f"site: one import torch {i + 1}/{repeats}")
            in_process.append(measure(worker("import-torch")).json()["seconds"])
            bare = measure([sys.executable, "-c", "pass"], env=environment()).wall
            imports.append(measure([sys.executable, "-c", "import torch"], env=environment()).wall - bare)
            for site, mode in variants:
                src = base / f"site{list(SITES).index(site)}"
                out = base / "_build"
                result = results.setdefault((site, mode), SiteResult())
                progress(f"site: {site}, {mode}: build {i + 1}/{repeats}")
                result.builds.append(sphinx_build(src, out, MODES[mode], base / "log"))
                for _ in range(rebuilds):
                    progress(f"site: {site}, {mode}: no-change rebuild")
                    result.rebuilds.append(sphinx_build(src, out, MODES[mode], base / "log"))
                shutil.rmtree(out)
        # -j auto against serial on a bigger site: builds only, no rebuilds.
        many: dict[tuple[str, str], list[float]] = {}
        for site in ("static", "directive"):
            write_site(base / f"many-{site}", totals, site, MANY_PAGES)
        for i in range(repeats):
            for site in ("static", "directive"):
                for mode in MODES:
                    progress(f"site: {MANY_PAGES} pages, {site}, {mode}: build {i + 1}/{repeats}")
                    out = base / "_build"
                    run = sphinx_build(base / f"many-{site}", out, MODES[mode], base / "log")
                    many.setdefault((site, mode), []).append(run.wall)
                    shutil.rmtree(out)
    return {"imports": imports, "in_process": in_process, "results": results, "many": many}


def per_round(values: list[float]) -> str:
    """The median of the rounds' ratios, and their range."""
    return f"{statistics.median(values):.2f}x (rounds {min(values):.2f}-{max(values):.2f})"


def _divide(numerators: list[float], denominators: list[float]) -> list[float]:
    """Round by round: each round's ratio of its own figures."""
    return [n / d for n, d in zip(numerators, denominators)]


def _rounds(r: SiteResult, step: str, rounds: int) -> list[float]:
    """One wall time per round: the build, or the median of the round's rebuilds."""
    runs = getattr(r, step)
    n = len(runs) // rounds
    return [statistics.median(b.wall for b in runs[i * n : (i + 1) * n]) for i in range(rounds)]


def print_site(site: dict, repeats: int, rebuilds: int) -> dict[str, float]:
    results: dict[tuple[str, str], SiteResult] = site["results"]
    imports: list[float] = site["imports"]
    print(
        f"\n3. sphinx-build -b html -q of a {PAGES}-page site, {PAGES * DIRECTIVES_PER_PAGE} counts of "
        f"{len(SITE_TARGETS)} targets; build: median of {repeats}, no-change rebuild: median of {repeats * rebuilds}"
    )
    for name, what in SITES.items():
        print(f"   {name + ':':<27} {what}")
    print(
        f"one import torch, one per round, median of {repeats}: {statistics.median(imports):.2f} s"
        f" (python -c 'import torch' minus python -c 'pass'; the import alone, in-process:"
        f" {statistics.median(site['in_process']):.2f} s, the rest is torch's teardown at exit)"
    )
    header = (
        f"{'site':<26} {'mode':<8} {'build s':>7} {'peak RSS':>9} {'read':>4} {'models (procs)':>14}"
        f"  {'rebuild s':>9} {'read':>4} {'models':>6} {'torch':>5}"
    )
    print(header)
    print("-" * len(header))
    for (name, mode), r in results.items():
        b, again = r.builds[-1], r.rebuilds
        rss = max(x.rss for x in r.builds)
        models = "-" if name == "static" else f"{b.builds} in {b.processes}"
        rebuilt = "-" if name == "static" else str(max(x.builds for x in again))
        print(
            f"{name:<26} {mode:<8} {r.wall('builds'):7.2f} {mb(rss):>9} {b.read:>4} {models:>14}"
            f"  {r.wall('rebuilds'):9.2f} {max(x.read for x in again):>4} {rebuilt:>6}"
            f" {'yes' if any(x.torch for x in again) else 'no':>5}"
        )
    figures: dict[str, float] = {}
    rounds = len(imports)

    def walls(name: str, mode: str, step: str = "builds") -> list[float]:
        return _rounds(results[name, mode], step, rounds)

    def site_ratios(name: str, mode: str, torch_costs: list[float]) -> list[float]:
        return [d / (st + imp) for d, st, imp in zip(walls(name, mode), walls("static", mode), torch_costs)]

    print("ratios: each round's own figures, then the median over rounds (and the range)")
    for mode in MODES:
        site_r = site_ratios("directive", mode, imports)
        again_r = _divide(walls("directive", mode, "rebuilds"), walls("static", mode, "rebuilds"))
        ratio, again = statistics.median(site_r), statistics.median(again_r)
        work = max(x.read + x.builds for x in results["directive", mode].rebuilds)
        figures[f"site {mode}"], figures[f"rebuild {mode}"], figures[f"rebuild work {mode}"] = ratio, again, work
        print(
            f"{mode:<8} site: directive / (static + one import torch) = {per_round(site_r)}"
            f" (target <= 1.3x: {verdict(ratio <= 1.3)});"
            f" no-change rebuild: directive / static = {per_round(again_r)} (target <= 1.1x: {verdict(again <= 1.1)}),"
            f" documents read + models built = {work:.0f} ({verdict(work == 0)})"
        )
    in_process_r = site_ratios("directive", "serial", site["in_process"])
    print(f"serial   site: directive / (static + the in-process import alone) = {per_round(in_process_r)}")
    if ("directive, :format: total", "serial") in results:
        total_r = site_ratios("directive, :format: total", "serial", imports)
        print(f"serial   site with :format: total (no tables) / (static + one import torch) = {per_round(total_r)}")
    par_r = _divide(walls("directive", "-j auto"), walls("directive", "serial"))
    static_par = _divide(walls("static", "-j auto"), walls("static", "serial"))
    print(
        f"-j auto / serial, {PAGES} pages: directive site {per_round(par_r)}; static site (Sphinx alone) {per_round(static_par)}"
    )
    many = site["many"]
    print(
        f"-j auto / serial at {MANY_PAGES} pages ({MANY_PAGES * DIRECTIVES_PER_PAGE} directives); build s, median of {rounds}:"
    )
    ratios = {}
    for name in ("static", "directive"):
        serial, par_many = many[name, "serial"], many[name, "-j auto"]
        ratios[name] = _divide(par_many, serial)
        print(
            f"   {name:<10} serial {statistics.median(serial):6.2f}  -j auto {statistics.median(par_many):6.2f}"
            f"  -j auto / serial = {per_round(ratios[name])}"
        )
    figures["parallel"] = par = statistics.median(ratios["directive"])
    figures["parallel small"] = statistics.median(par_r)
    print(
        f"target: -j auto at least as fast as serial for a many-page site ({MANY_PAGES} pages): {verdict(par <= 1.0)};"
        f" at {PAGES} pages {statistics.median(par_r):.2f}x, against Sphinx's own {statistics.median(static_par):.2f}x"
        " on the static site"
    )
    return figures


# -- part 4: update --check against sphinx-build --------------------------------------


def _probed(argv: list[str], log: Path) -> tuple[float, int, list[str]]:
    """Wall time, exit status and the models built (the probe's log) of one run."""
    log.write_text("")
    env = environment()
    env["PARAMCOUNT_BENCH_LOG"] = str(log)
    run = measure(argv, env=env)
    builds = [line.split(" ", 2)[2] for line in log.read_text().splitlines() if line.startswith("build ")]
    return run.wall, run.code, builds


def part_update(totals: dict[str, int], rounds: int, progress: Progress) -> dict:
    """Per round: ``sphinx-build -b html`` of the site into an empty folder, then ``update --check`` of it."""
    walls: dict[str, list[float]] = {"sphinx-build": [], "update --check": []}
    builds: dict[str, list[str]] = {}
    with tempfile.TemporaryDirectory(prefix="paramcount-bench-update-") as tmp:
        src = Path(tmp) / "directive"
        write_site(src, totals, "directive")
        log = Path(tmp) / "probe.log"
        for i in range(rounds):
            progress(f"update round {i + 1}/{rounds}")
            out = Path(tmp) / f"out{i}"
            build = [sys.executable, "-m", "sphinx", "-b", "html", "-q", str(src), str(out)]
            check = [sys.executable, "-m", "sphinx_paramcount", "update", "--check", str(src)]
            for name, argv in (("sphinx-build", build), ("update --check", check)):
                wall, code, built = _probed(argv, log)
                if code != 0:
                    raise SystemExit(f"{name} of the benchmark site failed (exit {code})")
                walls[name].append(wall)
                builds[name] = built
    return {"walls": walls, "builds": builds}


def print_update(result: dict, rounds: int) -> dict[str, float]:
    walls, builds = result["walls"], result["builds"]
    print(f"\n4. update --check of the {PAGES}-page, {PAGES * DIRECTIVES_PER_PAGE}-directive site ({rounds} rounds)")
    for name, values in walls.items():
        built = builds[name]
        print(
            f"   {name:<16} {statistics.median(values):6.2f} s  (rounds {min(values):.2f}-{max(values):.2f} s); "
            f"{len(built)} model builds, {len(set(built))} distinct"
        )
    ratios = _divide(walls["update --check"], walls["sphinx-build"])
    print(f"   update --check / sphinx-build: {per_round(ratios)}")
    once = all(len(b) == len(set(b)) for b in builds.values())
    return {"update": statistics.median(ratios), "update once": float(once)}


# -- part 4: formula coverage (not timed) ------------------------------------------------


def part_coverage(progress: Progress) -> list:
    progress("formula coverage of real architectures")
    run = measure(worker("coverage"))
    if run.code != 0:
        raise SystemExit(f"coverage worker failed:\n{run.err}")
    return run.json()


def _share(n: int, total: int) -> str:
    return f"{n:,} ({100 * n / total:.2g}%)" if n else "0"


def print_coverage(table: list) -> None:
    print("\nFormula coverage: parameters in rows with neither a named formula nor a legend")
    print("| Model | Parameters | Unexplained now | With the torch.nn formulas only |")
    print("|---|---:|---:|---:|")
    for name, total, now, before in table:
        print(f"| {name} | {total:,} | {_share(now, total)} | {_share(before, total)} |")
    worst = max(now / total for _, total, now, _ in table)
    print(f"target: at most 0.1% of each model's parameters unexplained: {verdict(worst <= 0.001)}")


# -- part 6: compute (MACs of one forward pass) ------------------------------------------


@dataclass
class ComputeCell:
    """One tool on one model's forward pass: medians over the repeats, or why it did not run."""

    wall: float | None = None
    rss: int | None = None
    macs: int | None = None
    note: str = ""
    cpu: float | None = None
    data: dict = field(default_factory=dict)  # the worker's JSON: what the tool reports, its breakdown


def compute_cell(tool: str, model: str, params: int, repeats: int, progress: Progress) -> ComputeCell:
    """The engine's compute table (the command line, text), the naive pass or another tool, each in a fresh process."""
    target = f"benchmarks.models:{model}"
    shape, dtype = COMPUTE_INPUTS[model]
    note, device = "", "cpu"
    if tool == "engine":
        argv = [sys.executable, "-m", "sphinx_paramcount", target, "--compute", "--input-shape", shape]
        argv += ["--input-dtype", dtype, "--format", "text"]
    else:
        if tool != "naive":
            repeats = 1  # not a target: one run each
            needs, available = params * 4, mem_available()  # float32 weights alone
            if needs > 0.8 * available:
                device = "meta"
                note = f"run on meta: does not fit in memory (needs ~{needs / GB:.0f} GB, {available / GB:.0f} GB available) "
        argv = worker("compute", tool, target, shape, dtype, device)
    runs = []
    for _ in range(repeats):
        progress(f"compute {model}: {tool}")
        run = measure(argv)
        runs.append(run)
        if run.code != 0:
            break
    last = runs[-1]
    if last.code != 0:
        return ComputeCell(last.wall, last.rss, None, note + failure(last, params, None))
    if tool == "engine":
        totals = {_text_total(r.out) for r in runs}
        data: dict = {}
    else:
        data = last.json()
        if "missing" in data or "failed" in data:
            why = data["missing"] if "missing" in data else f"failed: {data['failed']}"
            return ComputeCell(None, None, None, note + why, None, data)
        totals = {r.json()["macs"] for r in runs}
    macs = totals.pop()
    if totals:
        note += "the total changed between runs"
    return ComputeCell(
        statistics.median(r.wall for r in runs),
        int(statistics.median(r.rss for r in runs)),
        macs,
        note,
        statistics.median(r.cpu for r in runs),
        data,
    )


def _text_total(out: str) -> int:
    """The MACs on the text table's ``Total`` line."""
    for line in out.splitlines():
        if line.startswith("Total"):
            return int(line.split()[1].replace(",", ""))
    raise SystemExit(f"no Total line in the compute table:\n{out[-2000:]}")


def part_compute(models: list[str], params: dict[str, int], repeats: int, progress: Progress) -> dict:
    cells: dict[tuple[str, str], ComputeCell] = {}
    for model in models:
        for tool in ["engine", "naive", *COMPUTE_TOOLS]:
            cells[model, tool] = compute_cell(tool, model, params[model], repeats, progress)
        engine, expected = cells[model, "engine"], cells[model, "naive"].data.get("expected")
        if engine.macs is not None and expected is not None and engine.macs != expected:
            engine.note += f"WRONG total (expected {expected:,})"
    return cells


def print_compute(models: list[str], cells: dict[tuple[str, str], ComputeCell], repeats: int) -> None:
    print(
        f"\n6. Compute: MACs of one forward pass, a fresh process each (wall includes Python start-up and import torch);"
        f" engine and naive: median of {repeats}, the other tools: one run"
    )
    print("   engine: sphinx-paramcount TARGET --compute --input-shape ... --format text (the whole table)")
    print("   naive:  a meta build and FlopCounterMode(display=False) around model(x): no rows, no formulas")
    header = (
        f"{'model':<11} {'input':<19} {'tool':<16} {'wall s':>7} {'CPU s':>6} {'peak RSS':>9} {'MACs':>20} {'/ ours':>7}"
        "  note"
    )
    print(header)
    print("-" * len(header))
    for model in models:
        ours = cells[model, "engine"].macs
        shape, dtype = COMPUTE_INPUTS[model]
        for i, tool in enumerate(["engine", "naive", *COMPUTE_TOOLS]):
            c = cells[model, tool]
            first = (model, f"{shape} {dtype}") if i == 0 else ("", "")
            wall = "-" if c.wall is None else f"{c.wall:.2f}"
            cpu = "-" if c.cpu is None else f"{c.cpu:.2f}"
            ratio = f"{c.macs / ours:.3f}" if c.macs is not None and ours else "-"
            total = "-" if c.macs is None else f"{c.macs:,}"
            note = c.note
            if tool == "calflops" and "flops" in c.data:
                note += f"its FLOPs: {c.data['flops']:,} = {c.data['flops'] / c.macs:.3f} x its MACs"
            print(
                f"{first[0]:<11} {first[1]:<19} {tool:<16} {wall:>7} {cpu:>6} {mb(c.rss):>9} {total:>20} {ratio:>7}"
                f"  {note}"
            )
        engine, naive = cells[model, "engine"], cells[model, "naive"]
        if engine.wall and naive.wall and engine.rss and naive.rss and engine.cpu and naive.cpu:
            print(
                f"{'':<11} {'':<19} engine / naive, cold: {engine.wall / naive.wall:.2f}x wall,"
                f" {engine.cpu / naive.cpu:.2f}x CPU, {engine.rss / naive.rss:.2f}x peak RSS"
            )
    units = []
    for tool in COMPUTE_TOOLS:
        c, ours = cells.get(("ResNet50", tool)), cells.get(("ResNet50", "engine"))
        if c is None or c.macs is None or ours is None or not ours.macs:
            continue
        ratio = c.macs / ours.macs
        unit = "MACs" if abs(ratio - 1) < 0.05 else "FLOPs" if abs(ratio - 2) < 0.1 else "neither MACs nor FLOPs"
        units.append(f"   {tool:<16} calls it {c.data.get('reports', '?')!r}: {c.macs:,} = {ratio:.3f} x ours: {unit}")
    if units:
        print(
            "\nWhat each tool's figure is, by the numbers: its total / ours on ResNet50 (99.9% convolutions, where a"
            " count of FLOPs would be about 2x ours)"
        )
        print("\n".join(units))
    details = [
        f"   {model:<11} {tool:<8} {cells[model, tool].data['detail']}"
        for model in models
        for tool in COMPUTE_TOOLS
        if cells[model, tool].data.get("detail")
    ]
    if details:
        print("\nThe tools' own breakdowns, where they give one:")
        print("\n".join(details))


# -- main -----------------------------------------------------------------------------


class Progress:
    def __init__(self, quiet: bool) -> None:
        self.quiet, self.start = quiet, time.perf_counter()

    def __call__(self, what: str) -> None:
        if not self.quiet:
            print(f"[{time.perf_counter() - self.start:6.1f} s] {what}", file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--quick", action="store_true", help="fewer repeats; no CPU attempts at sizes that cannot fit")
    p.add_argument(
        "--repeats",
        type=int,
        help="fresh-process repeats per count (default 5, --quick 2), site rounds (default 5, --quick 3)"
        " and compute runs of the engine and the naive pass (default 3, --quick 1)",
    )
    p.add_argument("--models", nargs="+", choices=MODELS, default=MODELS, help="models to count (default: all)")
    p.add_argument("--parts", nargs="+", choices=PARTS, default=PARTS, help="parts to run (default: all)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress lines on stderr")
    p.add_argument("--worker", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        run_worker(args.worker)
        return 0

    repeats = args.repeats or (2 if args.quick else 5)
    warm_repeats = 15 if args.quick else 40
    site_repeats, rebuilds = args.repeats or (3 if args.quick else 5), 3
    progress = Progress(args.quiet)
    print(
        f"paramcount benchmark: {os.cpu_count()} cores, {mem_available() / GB:.1f} GB available, "
        f"load {os.getloadavg()[0]:.2f}, Python {sys.version.split()[0]}{', --quick' if args.quick else ''}"
    )
    progress("true counts (bare meta builds)")
    model_targets = [f"benchmarks.models:{m}" for m in args.models]
    totals = true_counts(model_targets + SITE_TARGETS)
    expected = {m: totals[t] for m, t in zip(args.models, model_targets)}
    cells = part_counting(args.models, expected, repeats, not args.quick, progress) if "count" in args.parts else {}
    warm = part_warm(args.models, warm_repeats, progress) if "warm" in args.parts else {}
    site = part_site(totals, site_repeats, rebuilds, progress) if "site" in args.parts else None
    updated = part_update(totals, site_repeats, progress) if "update" in args.parts else None
    coverage = part_coverage(progress) if "coverage" in args.parts else []
    compute_repeats = args.repeats or (1 if args.quick else 3)
    compute = part_compute(args.models, expected, compute_repeats, progress) if "compute" in args.parts else {}

    if cells:
        print_counting(args.models, cells, repeats)
    if warm:
        print_warm(warm, warm_repeats)
    figures = print_site(site, site_repeats, rebuilds) if site else {}
    if updated:
        figures |= print_update(updated, site_repeats)
    if coverage:
        print_coverage(coverage)
    if compute:
        print_compute(args.models, compute, compute_repeats)
    print(f"\n(load average at the end: {os.getloadavg()[0]:.2f})")
    print_targets(cells, warm, figures, compute)
    return 0


def print_targets(
    cells: dict[tuple[str, str], Cell],
    warm: dict[str, dict[str, float]],
    figures: dict[str, float],
    compute: dict[tuple[str, str], ComputeCell] | None = None,
) -> None:
    print("\nSpeed and memory targets")
    big = cells.get(("Llama2_70B", "engine"))
    if big and big.wall is not None and big.rss is not None and big.total is not None:
        ok = big.wall < 3 and big.rss < GB and not big.note
        print(f"- 70B decoder counted and rendered: {big.wall:.2f} s, {mb(big.rss)} (< 3 s, < 1 GB): {verdict(ok)}")
    for model, t in warm.items():
        ratio = t["explain"] / t["floor"]
        print(f"- explain() / meta floor after warm-up, {model}: {ratio:.2f}x (<= 1.5x): {verdict(ratio <= 1.5)}")
    for mode in MODES:
        if f"site {mode}" in figures:
            s, r, n = figures[f"site {mode}"], figures[f"rebuild {mode}"], figures[f"rebuild work {mode}"]
            print(f"- {mode}: 200-directive site {s:.2f}x (<= 1.3x): {verdict(s <= 1.3)}")
            print(
                f"- {mode}: no-change rebuild {r:.2f}x (<= 1.1x), nothing read or built: {verdict(r <= 1.1 and n == 0)}"
            )
    if "update" in figures:
        ratio, once = figures["update"], bool(figures["update once"])
        print(
            f"- update --check / sphinx-build, {PAGES * DIRECTIVES_PER_PAGE}-directive site: {ratio:.2f}x (<= 1.5x), "
            f"each model built once: {verdict(ratio <= 1.5 and once)}"
        )
    if "parallel" in figures:
        par, small = figures["parallel"], figures["parallel small"]
        print(
            f"- -j auto / serial, {MANY_PAGES}-page site: {par:.2f}x (<= 1.0x): {verdict(par <= 1.0)}"
            f" ({PAGES} pages: {small:.2f}x, see above)"
        )
    for model in COMPUTE_INPUTS:
        c = (compute or {}).get((model, "engine"))
        if c and c.wall is not None and c.rss is not None and c.macs is not None:
            ok = c.wall < 10 and c.rss < GB and "WRONG" not in c.note
            shape, dtype = COMPUTE_INPUTS[model]
            print(
                f"- compute table of {model} at {shape} {dtype}: {c.wall:.2f} s, {mb(c.rss)}"
                f" (< 10 s, < 1 GB): {verdict(ok)}"
            )


if __name__ == "__main__":
    sys.exit(main())
