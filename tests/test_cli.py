"""``python -m sphinx_paramcount``: output, formats and exit status, in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SEED = "tests.models.seed:SimpleNet"
ZOO = "tests.models.zoo"


def run(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    paths = [str(REPO / "ext"), str(REPO)]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return subprocess.run(
        [sys.executable, "-m", "sphinx_paramcount", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=300,
    )


def test_text_output() -> None:
    proc = run(SEED)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    lines = proc.stdout.splitlines()
    assert lines[0] == f"{SEED}: 131,618 parameters"
    table = lines[2 : lines.index("", 2)] if "" in lines[2:] else lines[2:]
    rows = {line.split()[0]: line for line in table if not line.startswith("-")}
    assert list(rows) == ["Layer", "conv1", "fc1", "fc2", "Total"]
    assert rows["conv1"].split()[1] == "448"
    assert "16 × 3 × 3 × 3 + 16" in rows["conv1"]
    assert "C_out·C_in·k_h·k_w + C_out" in rows["conv1"]
    assert rows["fc1"].split()[1] == "131,104"
    assert "4,096 × 32 + 32" in rows["fc1"]
    assert rows["fc2"].split()[1] == "66"
    assert rows["Total"].split()[1] == "131,618"
    assert "448 + 131,104 + 66" in rows["Total"]


def test_json_output() -> None:
    proc = run(SEED, "--format", "json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert {"target", "total", "trainable", "rows"} <= set(data)
    assert (data["target"], data["total"], data["trainable"]) == (SEED, 131_618, 131_618)
    assert [{key: row[key] for key in ("name", "type", "params", "formula", "derivation")} for row in data["rows"]] == [
        {
            "name": "conv1",
            "type": "Conv2d(3, 16, k=3)",
            "params": 448,
            "formula": r"C_{out} \cdot C_{in} \cdot k_h \cdot k_w + C_{out}",
            "derivation": r"16 \times 3 \times 3 \times 3 + 16",
        },
        {
            "name": "fc1",
            "type": "Linear(4096, 32)",
            "params": 131_104,
            "formula": r"d_{in} \cdot d_{out} + d_{out}",
            "derivation": r"4{,}096 \times 32 + 32",
        },
        {
            "name": "fc2",
            "type": "Linear(32, 2)",
            "params": 66,
            "formula": r"d_{in} \cdot d_{out} + d_{out}",
            "derivation": r"32 \times 2 + 2",
        },
    ]


def test_json_call_target() -> None:
    proc = run("torch.nn.Conv2d(16, 8, kernel_size=3, padding=1)", "-f", "json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["total"] == 1160
    assert [(r["name"], r["params"], r["derivation"]) for r in data["rows"]] == [
        ("", 1160, r"8 \times 16 \times 3 \times 3 + 8")
    ]


def test_depth_zero() -> None:
    proc = run(SEED, "--format", "json", "--depth", "0")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["total"] == 131_618
    assert [(r["name"], r["params"], r["derivation"]) for r in data["rows"]] == [("", 131_618, r"448 + 131{,}104 + 66")]
    text = run(SEED, "--depth", "0")
    assert text.returncode == 0
    assert "(root)" in text.stdout and "131,618" in text.stdout


def test_markdown_and_derivation_formats() -> None:
    md = run(SEED, "-f", "markdown")
    assert md.returncode == 0
    # The Total derivation is math like every row's.
    assert "| **Total** | **131,618** | | | $448 + 131{,}104 + 66$ |" in md.stdout.splitlines()
    prose = run(SEED, "-f", "derivation")
    assert prose.returncode == 0
    assert "Total parameters: 448 + 131,104 + 66 = 131,618" in prose.stdout


def test_notices_go_to_stderr() -> None:
    proc = run(f"{ZOO}:ReadsValues", "-f", "json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert (data["total"], data["method"]) == (50, "meta-params")
    assert proc.stderr.startswith(f"note: {ZOO}:ReadsValues: built on the CPU with parameters moved to the meta device")


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert 1 <= len(lines) <= 2
    if len(lines) == 2:
        assert lines[1].startswith("  hint: ")
    return lines[0]


@pytest.mark.parametrize(
    ("target", "first_line"),
    [
        (
            "nosuchpkg_xyz:Model",
            "sphinx-paramcount: error [import]: no module named 'nosuchpkg_xyz' (target 'nosuchpkg_xyz:Model')",
        ),
        ("f(lambda: 1)", "sphinx-paramcount: error [target]: 'lambda: 1' is a lambda; "),
        ("torch.nn.Linear(4,", "sphinx-paramcount: error [target]: target 'torch.nn.Linear(4,' is not valid syntax at"),
        (
            f"{ZOO}:NeedsArgs",
            f"sphinx-paramcount: error [target]: '{ZOO}:NeedsArgs' needs arguments that were not given: width",
        ),
        (f"{ZOO}:SimpleNett", f"sphinx-paramcount: error [import]: '{ZOO}' has no attribute 'SimpleNett'"),
    ],
)
def test_bad_target_exits_2(target: str, first_line: str) -> None:
    proc = run(target)
    assert proc.returncode == 2
    assert one_line_error(proc).startswith(first_line)


def test_constructor_raising_exits_1() -> None:
    proc = run(f"{ZOO}:Broken")
    assert proc.returncode == 1
    assert one_line_error(proc) == (
        f"sphinx-paramcount: error [instantiate]: building '{ZOO}:Broken' raised ValueError: broken on purpose"
    )
    assert proc.stderr.splitlines()[1] == "  hint: check the constructor's arguments in the target"


@pytest.mark.parametrize(
    ("target", "subtype"),
    [(f"{ZOO}:Exits", "instantiate"), (f"{ZOO}:not_a_model", "instantiate"), (f"{ZOO}:Lazy", "lazy")],
)
def test_model_errors_exit_1(target: str, subtype: str) -> None:
    proc = run(target)
    assert proc.returncode == 1
    assert one_line_error(proc).startswith(f"sphinx-paramcount: error [{subtype}]: ")


def test_traceback_flag() -> None:
    proc = run(f"{ZOO}:Broken", "--traceback")
    assert proc.returncode == 1
    assert "Traceback (most recent call last):" in proc.stderr
    assert "ValueError: broken on purpose" in proc.stderr
    assert proc.stderr.rstrip().splitlines()[-2].startswith("sphinx-paramcount: error [instantiate]: ")


def test_usage_errors() -> None:
    proc = run(SEED, "--depth", "-1")
    assert proc.returncode == 2
    assert "argument --depth: '-1' is not a whole number of 0 or more" in proc.stderr
    proc = run(SEED, "--format", "yaml")
    assert proc.returncode == 2
    assert "invalid choice: 'yaml'" in proc.stderr


def test_version() -> None:
    proc = run("--version")
    assert proc.returncode == 0
    assert proc.stdout.strip() == "sphinx-paramcount 0.1.0"


def test_module_in_current_directory(tmp_path: Path) -> None:
    (tmp_path / "local_model.py").write_text(
        "import torch.nn as nn\n\n\nclass Tiny(nn.Module):\n"
        "    def __init__(self):\n        super().__init__()\n        self.fc = nn.Linear(3, 2)\n"
    )
    proc = run("local_model:Tiny", "-f", "json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["total"] == 8


def test_conf_registers_the_projects_formulas(tmp_path) -> None:
    target = "tests.models.custom:Adapter"
    without = json.loads(run(target, "-f", "json").stdout)
    assert without["rows"][0]["formula"] == r"|\mathtt{down}| + |\mathtt{up}|"  # generic: the formula is in conf.py
    for conf in ("tests/roots/test-options", "tests/roots/test-options/conf.py"):
        proc = run(target, "-f", "json", "--conf", conf)
        assert proc.returncode == 0, proc.stderr
        rows = json.loads(proc.stdout)["rows"]
        assert rows[0]["name"] == "proj" and rows[0]["params"] == 384
        assert rows[0]["formula"] == r"d_{in} \cdot r + r \cdot d_{out}"
    missing = run(target, "--conf", str(tmp_path / "nowhere"))
    assert missing.returncode == 2
    assert missing.stderr == f"sphinx-paramcount: error: --conf {tmp_path / 'nowhere'}: no such file\n"
    broken = tmp_path / "conf.py"
    broken.write_text("import os\nraise RuntimeError('needs the docs theme')\n")
    failed = run(target, "--conf", str(broken))
    assert failed.returncode == 2
    assert f"sphinx-paramcount: error: {broken}: RuntimeError: needs the docs theme" in failed.stderr
    assert "Traceback" not in failed.stderr
