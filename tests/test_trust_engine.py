"""Issue 10, the engine's part: every model Python can build is documented, or gets a clear error.

- A page shows the same whatever the build order or ``-j``: torch's process-wide state is
  put back after each build and forward pass.
- ``parameters()`` overridden: counted by the rule, rows add up, registered tensors it does not
  yield are listed apart.
- ``BaseException``s from the user's code (constructor, import, formula, forward) are located
  errors of that directive; ``KeyboardInterrupt`` still stops the build.
- Layers whose ``extra_repr``/``__repr__``/label fail keep their rows.
- What an import prints is a located notice.
- Targets that ask for trained weights fail at once with the way to build without them.
- Fuzzing: odd modules end in a report that adds up or a ``ParamcountError``, never anything else.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from bs4 import BeautifulSoup
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from sphinx_paramcount import render
from sphinx_paramcount.api import explain
from sphinx_paramcount.build import build_model
from sphinx_paramcount.count import count_model
from sphinx_paramcount.errors import ParamcountError, WeightsError
from sphinx_paramcount.formulas.expr import Sym
from sphinx_paramcount.formulas.registry import default_registry
from sphinx_paramcount.guards import downloads_refused, refuse_weights, torch_state_kept
from sphinx_paramcount.target import parse_target
from tests.models import trust_engine
from tests.test_cli import run
from tests.test_fuzz import watched
from tests.test_reliability import ANSI, check_table_adds_up, problems, sphinx_build, table_rows

REPO = Path(__file__).resolve().parent.parent
ROOTS = REPO / "tests" / "roots"
TE = "tests.models.trust_engine"

# -- 1. torch's process-wide state ---------------------------------------------------------------------


def torch_state() -> dict[str, Any]:
    """Everything a constructor in trust_engine.changes() may change, as comparable values."""
    return {
        "dtype": torch.get_default_dtype(),
        "device": torch.get_default_device(),
        "tensor": torch.tensor([1.0]).dtype,
        "grad": torch.is_grad_enabled(),
        "deterministic": (
            torch.are_deterministic_algorithms_enabled(),
            torch.is_deterministic_algorithms_warn_only_enabled(),
        ),
        "anomaly": torch.is_anomaly_enabled(),
        "threads": torch.get_num_threads(),
        "precision": torch.get_float32_matmul_precision(),
        "print": torch._tensor_str.PRINT_OPTS.precision,
        "warn_always": torch.is_warn_always_enabled(),
        "autocast": torch.is_autocast_enabled("cpu"),
        "rng": torch.random.get_rng_state().tolist(),
        "modes": len(torch.overrides._get_current_function_mode_stack()),
        # No getter for flush-denormal: a denormal survives only while it is off.
        "denormal": torch.tensor([1e-323], dtype=torch.float64).item() != 0,
        "new_tensor_device": torch.zeros(1).device,
    }


SETTINGS_CHANGED = [
    "dtype",
    "device",
    "grad",
    "deterministic",
    "flush_denormal",
    "tensor_type",
    "seed",
    "threads",
    "anomaly",
    "matmul_precision",
    "print_options",
    "warn_always",
    "device_context",
    "autocast",
]


@pytest.mark.parametrize("setting", SETTINGS_CHANGED)
@pytest.mark.parametrize("device", ["meta", "cpu"])
def test_a_constructor_cannot_change_torchs_global_state(setting, device):
    before = torch_state()
    report = explain(f'{TE}.changes("{setting}")', device=device)
    assert report.total == 8
    assert torch_state() == before, setting
    # The model itself was built as its constructor asked: only the process is protected.
    if setting in ("dtype", "tensor_type"):
        assert set(report.bytes_by_dtype) == {"float16" if setting == "dtype" else "float64"}


def test_a_forward_pass_cannot_change_torchs_global_state():
    before = torch_state()
    report = explain(f"{TE}:Float64Forward", input_shape=(2, 4))
    assert report.row("fc").output_shape == "(2, 2)"
    assert torch_state() == before


def test_state_is_restored_when_the_build_fails():
    before = torch_state()

    def fail() -> None:
        torch.set_default_dtype(torch.float64)
        torch.manual_seed(7)
        raise RuntimeError("after changing the state")

    with pytest.raises(RuntimeError), torch_state_kept():
        fail()
    assert torch_state() == before


def test_models_built_before_and_after_a_dtype_changing_one_are_float32():
    first = explain("torch.nn.Linear(4, 2)")
    odd = explain(f"{TE}:Float64Net")
    after = explain("torch.nn.Linear(5, 2)")
    assert odd.bytes_by_dtype == {"float64": 80}
    assert first.bytes_by_dtype == {"float32": 40} and after.bytes_by_dtype == {"float32": 48}


FILLER = "Filler {n}\n========\n\nA page so that -j 2 reads in parallel.\n"


def state_site(src: Path, float64_first: bool) -> None:
    """Two pages, the float64 constructor's and a plain model's, in either order, plus fillers (-j needs > 5)."""
    src.mkdir()
    (src / "conf.py").write_text(f"import sys\nsys.path.insert(0, {str(REPO)!r})\nextensions = ['sphinx_paramcount']\n")
    odd = f"Odd\n===\n\n.. paramcount:: {TE}:Float64Net\n   :total: 10\n"
    plain = "Plain\n=====\n\n.. paramcount:: torch.nn.Linear(4, 2)\n   :total: 10\n"
    pages = {"a": odd, "b": plain} if float64_first else {"a": plain, "b": odd}
    for name, text in pages.items():
        (src / f"{name}.rst").write_text(text)
    fillers = [f"filler{n}" for n in range(5)]
    for n, name in enumerate(fillers):
        (src / f"{name}.rst").write_text(FILLER.format(n=n))
    (src / "index.rst").write_text("Site\n====\n\n.. toctree::\n\n   a\n   b\n" + "".join(f"   {f}\n" for f in fillers))


@pytest.mark.parametrize("float64_first", [True, False], ids=["float64-page-first", "plain-page-first"])
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_page_shows_the_same_whatever_the_order_and_jobs(tmp_path, float64_first, jobs):
    src = tmp_path / "src"
    state_site(src, float64_first)
    result = sphinx_build(src, tmp_path / "out", "-j", jobs)
    assert result.returncode == 0, result.stderr
    assert problems(result.stderr) == []
    odd_page, plain_page = ("a", "b") if float64_first else ("b", "a")

    def summary(page: str) -> str:
        soup = BeautifulSoup((tmp_path / "out" / f"{page}.html").read_text(), "html.parser")
        return soup.select_one("p.paramcount-summary").get_text()

    assert summary(plain_page) == "Size: 40 bytes (float32)."
    assert summary(odd_page) == "Size: 80 bytes (float64)."


# -- 2. parameters() overridden --------------------------------------------------------------------------


def test_distiller_counts_what_parameters_yields_and_lists_the_rest():
    model = trust_engine.Distiller()
    report = explain(f"{TE}:Distiller")
    assert report.total == sum(p.numel() for p in model.parameters()) == 18
    assert [(r.name, r.params) for r in report.rows] == [("student", 18)]
    reason = "registered, but Distiller.parameters() does not yield it"
    assert [(t.name, t.shape, t.numel, t.reason) for t in report.not_counted] == [
        ("teacher.weight", (8, 8), 64, reason),
        ("teacher.bias", (8,), 8, reason),
    ]
    assert report.bytes_by_dtype == {"float32": 72}  # the student's bytes only


@pytest.mark.parametrize(
    ("target", "total", "rows", "not_counted"),
    [
        ("NamedDistiller", 18, {"student": 18}, {"teacher.weight": 64, "teacher.bias": 8}),
        ("ExtraParameter", 28, {"fc": 8, "(unregistered)": 20}, {}),
        ("Duplicates", 8, {"fc": 8}, {}),
    ],
)
def test_other_overrides_count_by_the_rule(target, total, rows, not_counted):
    report = explain(f"{TE}:{target}")
    assert (
        report.total == total == sum({id(p): p.numel() for p in getattr(trust_engine, target)().parameters()}.values())
    )
    assert {r.name: r.params for r in report.rows} == rows
    assert sum(r.params for r in report.rows) == report.total
    assert {t.name: t.numel for t in report.not_counted} == not_counted


def test_named_parameters_override_is_named_in_the_reason():
    (first, _) = explain(f"{TE}:NamedDistiller").not_counted
    assert first.reason == "registered, but NamedDistiller.named_parameters() does not yield it"


def test_duplicates_are_counted_once_with_a_notice():
    report = explain(f"{TE}:Duplicates")
    assert report.notices == ["Duplicates.parameters() yields 4 tensors but only 2 distinct ones; each is counted once"]


def test_unregistered_parameters_get_a_row_of_their_own():
    row = explain(f"{TE}:ExtraParameter").row("(unregistered)")
    assert (row.derivation, row.params, row.label) == (
        r"5 \times 4",
        20,
        "yielded by parameters(), registered on no module",
    )


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("YieldsNonTensor", "YieldsNonTensor.parameters() yielded a str, not a tensor"),
        ("ParametersRaise", "ParametersRaise.parameters() raised RuntimeError: parameters() is broken on purpose"),
    ],
)
def test_parameters_that_cannot_be_used_are_a_model_error(target, message):
    with pytest.raises(ParamcountError) as info:
        explain(f"{TE}:{target}")
    assert (info.value.subtype, info.value.message) == ("model", message)


def test_not_counted_in_text_markdown_and_json():
    report = explain(f"{TE}:Distiller")
    line = (
        "Not counted: 72 in 2 tensors, registered, but Distiller.parameters() does not yield it: "
        "teacher.weight (64), teacher.bias (8)"
    )
    assert line in render.to_text(report).replace("\n  ", " ").splitlines()  # wrapped at 120 columns
    assert line in render.to_markdown(report).splitlines()
    data = json.loads(render.to_json(report))
    assert data["total"] == 18
    assert data["not_counted"] == [
        {"name": "teacher.weight", "shape": [8, 8], "params": 64, "reason": "registered, but Distiller.parameters() does not yield it"},
        {"name": "teacher.bias", "shape": [8], "params": 8, "reason": "registered, but Distiller.parameters() does not yield it"},
    ]  # fmt: skip
    assert json.loads(render.to_json(explain("torch.nn.Linear(2, 2)")))["not_counted"] == []


def test_cli_distiller_prints_no_traceback_and_lists_what_is_not_counted():
    text = run(f"{TE}:Distiller")
    assert text.returncode == 0, text.stderr
    assert text.stdout.startswith(f"{TE}:Distiller: 18 parameters\n")
    assert "Not counted: 72 in 2 tensors" in text.stdout
    assert "Traceback" not in text.stderr
    data = json.loads(run(f"{TE}:Distiller", "--format", "json").stdout)
    assert (data["total"], [t["name"] for t in data["not_counted"]]) == (18, ["teacher.weight", "teacher.bias"])


# -- 3. BaseException ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "name"),
    [("Cancelled", "CancelledError"), ("RaisesCustomBase", "CustomBase"), ("RaisesGeneratorExit", "GeneratorExit")],
)
@pytest.mark.parametrize("device", ["meta", "cpu"])
def test_a_base_exception_in_a_constructor_is_an_instantiate_error(target, name, device):
    with pytest.raises(ParamcountError) as info:
        build_model(f"{TE}:{target}", device)
    assert info.value.subtype == "instantiate"
    assert info.value.message.startswith(
        f"building '{TE}:{target}' raised {name} (a BaseException, not an Exception): "
    )
    assert type(info.value.__cause__).__name__ == name  # kept for -v / --traceback


@pytest.mark.parametrize(
    ("module", "words"),
    [
        ("trust_cancelled_on_import", "CancelledError: cancelled while importing"),
        ("trust_custom_base_on_import", "Stop: stopped while importing"),
    ],
)
def test_a_base_exception_while_importing_is_an_import_error(module, words):
    for target in (
        f"tests.models.{module}:Net",
        f"tests.models.{module}.Net",
        f"torch.nn.Sequential(tests.models.{module}.Net())",
    ):
        with pytest.raises(ParamcountError) as info:
            build_model(target)
        assert info.value.subtype == "import"
        assert info.value.message == f"importing 'tests.models.{module}' failed: {words}"


def test_a_base_exception_in_a_forward_pass_or_a_formula_is_located_and_typed():
    with pytest.raises(ParamcountError) as info:
        explain(f"{TE}:CancelledForward", input_shape=(1, 4))
    assert (info.value.subtype, info.value.message) == (
        "instantiate",
        "the forward pass with input shape (1, 4) failed in CancelledForward.forward itself: CancelledError: cancelled in forward",
    )
    registry = default_registry().copy()
    registry.add(trust_engine.BaseFormula, build=trust_engine.base_raising_formula)
    with pytest.raises(ParamcountError) as info:
        count_model(trust_engine.BaseFormula(), "t", registry)
    assert info.value.subtype == "formula"
    assert "raised CustomBase: formula is broken on purpose" in info.value.message


def test_keyboard_interrupt_still_propagates_from_extra_repr_formula_and_forward():
    class Interrupting(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = nn.Parameter(torch.zeros(2, 2))

        def extra_repr(self) -> str:
            raise KeyboardInterrupt

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        count_model(nn.Sequential(Interrupting()))
    registry = default_registry().copy()
    registry.add(trust_engine.Scale, build=trust_engine.scale_formula, label=lambda m: "Scale")
    registry.add(trust_engine.BaseFormula, build=lambda m: (_ for _ in ()).throw(KeyboardInterrupt))
    with pytest.raises(KeyboardInterrupt):
        count_model(trust_engine.BaseFormula(), "t", registry)
    from sphinx_paramcount.shapes import run_forward

    with pytest.raises(KeyboardInterrupt):
        run_forward(Interrupting(), (1, 2))


# -- 4. labels -------------------------------------------------------------------------------------------


def test_layers_whose_repr_or_label_fail_keep_their_rows():
    registry = default_registry().copy()
    registry.add(trust_engine.Scale, build=trust_engine.scale_formula, label=trust_engine.raising_label)

    class NoBaseLabel(nn.Module):  # no formula: the label is extra_repr's, which raises an Exception
        def __init__(self) -> None:
            super().__init__()
            self.w = nn.Parameter(torch.zeros(2))

        def extra_repr(self) -> str:
            raise ValueError("no repr")

    model = trust_engine.OddLayers()
    model.e = NoBaseLabel()
    report = count_model(model, "odd", registry)
    assert [(r.name, r.label, r.params) for r in report.rows] == [
        ("a", "BadExtraRepr(4, 3)", 15),  # Linear's registered label; extra_repr is not needed
        ("b", "BadRepr(3, 2)", 8),
        ("c", "IntExtraRepr", 9),  # extra_repr returned 42
        ("d", "Scale", 7),  # the registered label raised
        ("e", "NoBaseLabel", 2),
    ]
    assert report.row("d").derivation == "7" and report.row("d").family == "scale_formula"
    assert report.total == 41


# -- 5. output while importing ------------------------------------------------------------------------


def test_import_output_is_a_notice_and_a_failed_imports_output_is_in_its_error(capfd):
    sys.modules.pop("tests.models.trust_noisy_import", None)
    report = explain("tests.models.trust_noisy_import:Net")
    out, err = capfd.readouterr()
    assert out == err == ""
    assert report.notices == [
        "tests.models.trust_noisy_import:Net printed while its modules were imported: loading trust_noisy_import on "
        "stdout; and a line on stderr; UserWarning: trust_noisy_import: a warning at import"
    ]
    with pytest.raises(ParamcountError) as info:
        explain("tests.models.trust_noisy_broken_import:Net")
    assert info.value.message == (
        "importing 'tests.models.trust_noisy_broken_import' failed: RuntimeError: broken after printing; "
        "while importing, it printed: trust_noisy_broken_import: CUDA_HOME is not set"
    )
    assert capfd.readouterr() == ("", "")


# -- 6. weights -------------------------------------------------------------------------------------------

TV = "tests.models.fake_torchvision.models"


@pytest.mark.parametrize(
    ("target", "message"),
    [
        (
            f"{TV}.resnet50(weights={TV}.ResNet50_Weights.DEFAULT)",
            f"{TV}.resnet50(..., weights={TV}.ResNet50_Weights.DEFAULT) asks for trained weights",
        ),
        (f'{TV}.resnet50(weights="IMAGENET1K_V2")', f"{TV}.resnet50(..., weights='IMAGENET1K_V2') asks for"),
        ('tests.models.fake_timm.create_model("resnet18", pretrained=True)', "tests.models.fake_timm.create_model(..., pretrained=True) asks"),
        ('transformers.AutoModelForCausalLM.from_pretrained("gpt2")', "transformers.AutoModelForCausalLM.from_pretrained(...) downloads"),
        ('torch.hub.load("pytorch/vision", "resnet50")', "torch.hub.load(...) downloads a torch.hub repository"),
        (f"torch.nn.Sequential({TV}.resnet50(weights={TV}.ResNet50_Weights.DEFAULT))", f"{TV}.resnet50(..., weights="),
    ],
)  # fmt: skip
def test_targets_that_ask_for_weights_are_refused_before_anything_is_imported(target, message):
    spec = parse_target(target)
    with pytest.raises(WeightsError) as info:
        refuse_weights(spec)
    assert info.value.subtype == "weights" and info.value.message.startswith(message)
    assert "weights=None" in info.value.hint and "from_config(transformers.GPT2Config())" in info.value.hint


@pytest.mark.parametrize(
    "target",
    [
        f"{TV}.resnet50(weights=None)",
        'tests.models.fake_timm.create_model("resnet18", pretrained=False)',
        "transformers.AutoModelForCausalLM.from_config(transformers.GPT2Config(n_layer=1))",
        "tests.models.custom:Adapter",
        "torch.nn.Linear(2, 3)",
        'torch.hub.load("/path/to/repo", "net", source="local")',
        "tests.models.custom:Adapter(weights=[1, 2])",  # a user's own weights= argument is not ours to judge
    ],
)
def test_targets_without_weights_pass_the_check(target):
    refuse_weights(parse_target(target))


@pytest.mark.parametrize(
    ("factory", "words"),
    [
        ("torchvision_with_weights", "tried to download https://download.pytorch.org/models/resnet50-11ad3fa6.pth"),
        ("timm_pretrained", "tried to download files from the Hugging Face hub (LocalEntryNotFoundError"),
        ("timm_pretrained_url", "tried to download https://download.pytorch.org/models/resnet18-f37072fd.pth"),
        ("gpt2_from_pretrained", "tried to download files from the Hugging Face hub (OSError"),
    ],
)
def test_a_download_while_building_fails_at_once_without_touching_the_network(factory, words):
    import transformers  # noqa: F401 - imported outside the watch: only the build is watched

    with watched() as events, pytest.raises(WeightsError) as info:
        build_model(f"{TE}:{factory}")
    assert [event for event, _ in events if event.startswith("socket.")] == []
    assert words in info.value.message
    assert "counting never needs trained weights" in info.value.message
    assert "pretrained=False" in info.value.hint


def test_downloads_and_hub_offline_mode_are_restored_after_the_build(monkeypatch):
    import huggingface_hub.constants
    import torch.hub

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    # The refusal caught inside the build is raised again when the build ends: caught, it still counts.
    with pytest.raises(WeightsError), downloads_refused():
        assert os.environ["HF_HUB_OFFLINE"] == "1" and huggingface_hub.constants.HF_HUB_OFFLINE
        with pytest.raises(WeightsError):
            torch.hub.download_url_to_file("https://example.invalid/w.pth", "/nonexistent/w.pth")
    assert "HF_HUB_OFFLINE" not in os.environ and huggingface_hub.constants.HF_HUB_OFFLINE is False
    # Outside a build, torch.hub is itself again (here: a URL that cannot resolve fails its own way).
    with pytest.raises(Exception) as info:
        torch.hub.download_url_to_file("file:///nonexistent/w.pth", "/nonexistent/w.pth")
    assert not isinstance(info.value, WeightsError)


def test_cli_refuses_weights_with_its_subtype():
    result = run('transformers.AutoModelForCausalLM.from_pretrained("gpt2")')
    assert result.returncode == 1
    assert result.stderr.startswith(
        "sphinx-paramcount: error [weights]: transformers.AutoModelForCausalLM.from_pretrained(...) downloads"
    )
    assert "hint: counting needs only the architecture" in result.stderr
    assert "Traceback" not in result.stderr


# -- the Sphinx build: every kind above, located, serial and -j 2 ----------------------------------------

WEIGHTS = "counting never needs"
TRUST_PROBLEMS = [
    ("baseexc.rst", 4, "instantiate", f"building '{TE}:Cancelled' raised CancelledError (a BaseException"),
    ("baseexc.rst", 6, "instantiate", f"building '{TE}:RaisesCustomBase' raised CustomBase (a BaseException"),
    ("baseexc.rst", 8, "instantiate", f"building '{TE}:RaisesGeneratorExit' raised GeneratorExit (a BaseException"),
    ("baseexc.rst", 10, "import", "importing 'tests.models.trust_cancelled_on_import' failed: CancelledError"),
    ("baseexc.rst", 12, "import", "importing 'tests.models.trust_custom_base_on_import' failed: Stop"),
    ("baseexc.rst", 14, "instantiate", "the forward pass with input shape (1, 4) failed in CancelledForward.forward"),
    ("baseexc.rst", 17, "formula", "the formula 'base_raising_formula' for BaseFormula (root) raised CustomBase"),
    ("baseexc.rst", 19, "instantiate", f"building '{TE}:Cancelled' raised CancelledError"),  # the role
    ("imports.rst", 10, "import", "importing 'tests.models.trust_noisy_broken_import' failed: RuntimeError: broken"),
    ("myst.md", 7, "instantiate", f"building '{TE}:RaisesCustomBase' raised CustomBase"),
    ("overridden.rst", 16, "model", "YieldsNonTensor.parameters() yielded a str, not a tensor"),
    ("overridden.rst", 18, "model", "ParametersRaise.parameters() raised RuntimeError"),
    ("weights.rst", 4, "weights", f"{TV}.resnet50(..., weights={TV}.ResNet50_Weights.DEFAULT) asks for trained"),
    ("weights.rst", 6, "weights", "tests.models.fake_timm.create_model(..., pretrained=True) asks for trained"),
    ("weights.rst", 8, "weights", "transformers.AutoModelForCausalLM.from_pretrained(...) downloads"),
    ("weights.rst", 10, "weights", "building the model tried to download https://download.pytorch.org/models/resnet50"),
    ("weights.rst", 12, "weights", "building the model tried to download files from the Hugging Face hub"),
    ("weights.rst", 14, "weights", "building the model tried to download https://download.pytorch.org/models/resnet18"),
    ("weights.rst", 16, "weights", "building the model tried to download files from the Hugging Face hub"),
]


@pytest.fixture(scope="module")
def trust_builds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[subprocess.CompletedProcess[str], Path]]:
    out = tmp_path_factory.mktemp("trust")
    return {
        jobs: (sphinx_build(ROOTS / "test-trust-engine", out / jobs, "-j", jobs), out / jobs) for jobs in ("1", "2")
    }


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_trust_root_reports_every_problem_located_once_and_builds_the_rest(trust_builds, jobs):
    result, outdir = trust_builds[jobs]
    assert result.returncode == 1
    found = sorted(problems(result.stderr))
    assert [(f, line, sub) for f, line, sub, _ in found] == [(f, line, sub) for f, line, sub, _ in TRUST_PROBLEMS]
    for (_, line, _, message), (_, _, _, words) in zip(found, TRUST_PROBLEMS):
        assert message.startswith(words), (line, message)
    assert all(WEIGHTS in m and "weights=None" in m for f, _, sub, m in found if sub == "weights")
    assert "paramcount: 19 problems in the docs:" in result.stdout
    assert "Traceback" not in result.stderr + result.stdout
    for page, words in [
        ("overridden", "After the overridden parameters."),
        ("baseexc", "After the BaseExceptions."),
        ("labels", "After the odd layers."),
        ("imports", "After the noisy imports."),
        ("weights", "After the weights."),
        ("myst", "After the MyST directives."),
    ]:
        assert words in (outdir / f"{page}.html").read_text(), page


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_trust_root_pages_show_counts_by_the_rule(trust_builds, jobs):
    _, outdir = trust_builds[jobs]

    def page(name: str) -> BeautifulSoup:
        return BeautifulSoup((outdir / f"{name}.html").read_text(), "html.parser")

    overridden = page("overridden")
    tables = [check_table_adds_up(t) for t in overridden.select("table.paramcount-table")]
    assert [t["Total"][1] for t in tables] == ["18", "18", "28", "8"]
    assert [list(t) for t in tables] == [
        ["student", "Total"],
        ["student", "Total"],
        ["fc", "(unregistered)", "Total"],
        ["fc", "Total"],
    ]
    summaries = [p.get_text() for p in overridden.select("p.paramcount-summary")]
    assert summaries[0] == (
        "Size: 72 bytes (float32). Not counted: 72 in 2 tensors, registered, but Distiller.parameters() does not "
        "yield it: teacher.weight (64), teacher.bias (8)."
    )
    assert "NamedDistiller.named_parameters() does not yield it" in summaries[1]
    assert "Not counted" in page("myst").select_one("p.paramcount-summary").get_text()

    labels = check_table_adds_up(page("labels").select_one("table.paramcount-table"))
    assert {k: v[3] for k, v in labels.items() if k != "Total"} == {
        "a": "BadExtraRepr(4, 3)",
        "b": "BadRepr(3, 2)",
        "c": "IntExtraRepr",
        "d": "Scale",
    }
    assert labels["Total"][1] == "39"

    weights = [table_rows(t)[-1][1] for t in page("weights").select("table.paramcount-table")]
    assert weights == ["330", "137"]
    # A role whose constructor raised a BaseException keeps the author's text, marked.
    assert f":paramcount:`{TE}:Cancelled`" in page("baseexc").select_one(".problematic").get_text()


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_trust_root_import_output_is_located_at_the_directive(trust_builds, jobs):
    result, _ = trust_builds[jobs]
    log = ANSI.sub("", result.stdout + result.stderr)
    lines = [line for line in log.splitlines() if "trust_noisy_import on stdout" in line]
    assert len(lines) == 1, lines  # once, though two directives use the model
    assert lines and all(
        line.endswith(
            "paramcount: tests.models.trust_noisy_import:Net printed while its modules were imported: loading "
            "trust_noisy_import on stdout; and a line on stderr; UserWarning: trust_noisy_import: a warning at import"
        )
        for line in lines
    )
    assert "imports.rst:4: paramcount: tests.models.trust_noisy_import:Net printed" in lines[0]
    assert not any(
        line.strip() in ("and a line on stderr", "loading trust_noisy_import on stdout") for line in log.splitlines()
    )


# -- 7. fuzz: odd modules -----------------------------------------------------------------------------------

ODD = [None, 42, "", "x" * 80, ValueError("odd"), KeyboardInterrupt, trust_engine.CustomBase("odd")]
ODD = ODD[:5] + ODD[6:]  # a KeyboardInterrupt stops by design: not fuzzed


def _behaviour(odd: Any) -> Any:
    def method(*args: Any, **kwargs: Any) -> Any:
        if isinstance(odd, BaseException):
            raise odd
        return odd

    return method


@st.composite
def odd_models(draw: st.DrawFn) -> nn.Module:
    """A small tree whose layers' extra_repr, labels and the root's parameters() misbehave."""
    layers = []
    for i in range(draw(st.integers(1, 4))):
        base = draw(st.sampled_from([nn.Linear, nn.Conv1d, nn.LayerNorm, nn.Embedding]))
        attrs: dict[str, Any] = {}
        if draw(st.booleans()):
            attrs["extra_repr"] = _behaviour(draw(st.sampled_from(ODD)))
        if draw(st.booleans()):
            attrs["__repr__"] = _behaviour(draw(st.sampled_from(ODD)))
        cls = type(f"Odd{base.__name__}{i}", (base,), attrs)
        args = {nn.Linear: (3, 2), nn.Conv1d: (2, 2, 3), nn.LayerNorm: (4,), nn.Embedding: (5, 2)}[base]
        layers.append(cls(*args))
    model = nn.Sequential(*layers)
    how = draw(st.sampled_from(["plain", "subset", "duplicates", "extra", "raises", "odd-item"]))
    params = list(nn.Module.parameters(model))
    chosen = {
        "plain": params,
        "subset": params[:: draw(st.integers(1, 3))],
        "duplicates": params + params[:1],
        "extra": [*params, nn.Parameter(torch.zeros(draw(st.integers(1, 4)), 2))],
        "raises": None,
        "odd-item": [*params, draw(st.sampled_from([None, 3, "p"]))],
    }[how]

    def parameters(self: nn.Module, recurse: bool = True) -> Iterator[Any]:
        if chosen is None:
            raise trust_engine.CustomBase("parameters() raises")
        return iter(chosen)

    model.parameters = parameters.__get__(model)  # type: ignore[method-assign]
    return model


@settings(max_examples=60, deadline=None)
@given(odd_models())
def test_odd_models_add_up_or_raise_a_paramcount_error(model):
    try:
        report = count_model(model, "odd")
    except ParamcountError as exc:
        assert exc.subtype == "model" and exc.message
        return
    unique = {id(p): p for p in model.parameters()}
    assert report.total == sum(p.numel() for p in unique.values())
    assert sum(r.params for r in report.rows) == report.total
    registered = {id(p) for p in nn.Module.parameters(model)}
    assert {t.name for t in report.not_counted} == {
        n for n, p in nn.Module.named_parameters(model) if id(p) not in unique and id(p) in registered
    }
    assert all(isinstance(r.label, str) and r.label for r in report.rows)
    render.to_text(report), render.to_json(report)  # every view renders


def test_a_tensor_whose_size_cannot_be_read_is_a_model_error():
    class Unreadable(torch.Tensor):
        @classmethod
        def __torch_function__(cls, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
            if func is torch.Tensor.numel or getattr(func, "__name__", "") == "numel":
                raise RuntimeError("numel is broken on purpose")
            return super().__torch_function__(func, types, args, kwargs or {})

    model = nn.Linear(2, 2)
    odd = torch.zeros(3).as_subclass(Unreadable)
    model.parameters = lambda recurse=True: iter([odd])  # type: ignore[method-assign]
    with pytest.raises(ParamcountError) as info:
        count_model(model, "unreadable")
    assert info.value.subtype == "model"
    assert info.value.message == "unreadable: counting the built model failed: RuntimeError: numel is broken on purpose"


def test_formula_returning_a_float_or_bool_falls_back_to_tensor_sizes():
    registry = default_registry().copy()
    registry.add(trust_engine.Scale, build=lambda m: Sym("d", "Gain", 7.0))
    row = count_model(trust_engine.Scale(), "s", registry).rows[0]
    assert (row.family, row.derivation, row.params) == ("generic", "7", 7)
    assert row.note.startswith("the <lambda> formula gives 7.0 but the tensors hold 7")
    registry.add(trust_engine.Scale, build=lambda m: True)
    with pytest.raises(ParamcountError) as info:
        count_model(trust_engine.Scale(), "s", registry)
    assert (info.value.subtype, info.value.message) == (
        "formula",
        "the formula '<lambda>' returned bool, not an expression",
    )
