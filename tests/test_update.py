"""``sphinx-paramcount update``: only stale numbers change, in the author's style, atomically."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sphinx_paramcount import update
from sphinx_paramcount.cli import main

RST = (
    "T\r\n=\r\n\r\n"
    ".. paramcount:: tests.models.seed:SimpleNet\r\n"
    "   :total: 131,586\r\n"
    "   :expect: conv1=448, fc1=131_000\r\n"
    "   :trainable: 131.5K   \r\n"
    "\r\n"
    "Caf\xe9 role :paramcount:`131.5K <tests.models.seed:SimpleNet>` and "
    ":paramcount:`131618 <tests.models.seed:SimpleNet>`.\r\n"
)

MYST = """# B

:::{paramcount} torch.nn.Conv2d(16, 8, kernel_size=3, padding=1)
:total: 1,152
:format: derivation
:::

```{paramcount} tests.models.scale:llama2_70b
:total: 6.73B
:expect: layers.0-79=68.45B
```

Role {paramcount}`131_000 <tests.models.seed:SimpleNet>` here.
"""


def _write(path: Path, text: str, encoding: str = "utf-8") -> bytes:
    data = text.encode(encoding)
    path.write_bytes(data)
    return data


def test_rst_with_crlf_and_latin1_keeps_every_other_byte(tmp_path, capsys):
    page = tmp_path / "page.rst"
    before = _write(page, RST, "latin-1")
    assert main(["update", str(page), "--write"]) == 0
    after = page.read_bytes()
    expected = (
        before.replace(b":total: 131,586", b":total: 131,618")
        .replace(b"fc1=131_000", b"fc1=131_104")
        .replace(b":trainable: 131.5K   ", b":trainable: 131.6K   ")
        .replace(b"`131.5K <", b"`131.6K <")
    )
    assert after == expected
    out = capsys.readouterr()
    assert "-   :total: 131,586" in out.out and "+   :total: 131,618" in out.out
    assert "4 stated numbers updated" in out.err
    assert [p.name for p in tmp_path.iterdir()] == ["page.rst"]  # no temporary file left


def test_myst_colon_and_backtick_fences_and_rounded_precision(tmp_path):
    page = tmp_path / "page.md"
    _write(page, MYST)
    assert main(["update", str(tmp_path), "--write"]) == 0
    text = page.read_text()
    assert ":total: 1,160\n:format: derivation" in text
    # Rounded forms keep their unit and precision: 68,976,648,192 is 68.98B to two decimals.
    assert ":total: 68.98B" in text
    assert ":expect: layers.0-79=68.45B" in text  # 80 x 855,654,400 = 68.45B: still right, untouched
    assert "{paramcount}`131,618 <" not in text and "{paramcount}`131_618 <" in text


def test_check_exits_1_when_stale_and_0_when_current(tmp_path):
    page = tmp_path / "page.md"
    _write(page, MYST)
    assert main(["update", str(page), "--check"]) == 1
    assert page.read_text() == MYST  # --check never writes
    main(["update", str(page), "--write"])
    assert main(["update", str(page), "--check"]) == 0


def test_unbuildable_target_and_unparseable_file_are_reported_and_untouched(tmp_path, capsys):
    bad_target = tmp_path / "a.rst"
    _write(
        bad_target,
        ".. paramcount:: tests.models.seed:SimpleNt\n   :total: 5\n\n"
        ".. paramcount:: tests.models.seed:SimpleNet\n   :total: 5\n",
    )
    unclosed = tmp_path / "b.md"
    _write(unclosed, "```{paramcount} tests.models.seed:SimpleNet\n:total: 5\n")
    malformed = tmp_path / "c.rst"
    _write(malformed, ".. paramcount:: tests.models.seed:SimpleNet\n   :total: 12a\n")
    assert main(["update", str(tmp_path), "--write"]) == 1
    err = capsys.readouterr().err
    assert "a.rst:1: tests.models.seed:SimpleNt: [import]" in err
    assert "b.md: not parsed safely, left untouched" in err and "never closed" in err
    assert "c.rst: not parsed safely, left untouched" in err and "'12a' is not a number" in err
    # The good directive in a.rst is still updated; the others are untouched.
    assert bad_target.read_text().endswith(":total: 131618\n")
    assert ":total: 5\n" in bad_target.read_text()
    assert unclosed.read_text() == "```{paramcount} tests.models.seed:SimpleNet\n:total: 5\n"
    assert malformed.read_text().endswith(":total: 12a\n")


def test_interrupted_write_leaves_the_original_whole(tmp_path, monkeypatch):
    page = tmp_path / "page.rst"
    before = _write(page, RST)

    def interrupted(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        main(["update", str(page), "--write"])
    assert page.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["page.rst"]


def test_find_sites_locates_each_number():
    sites = update.find_sites(RST, "page.rst")
    stated = [(s.what, s.count.text, RST[s.start : s.end]) for site in sites for s in site.stated]
    assert stated == [
        ("total", "131,586", "131,586"),
        ("conv1", "448", "448"),
        ("fc1", "131_000", "131_000"),
        ("trainable", "131.5K", "131.5K"),
        ("total", "131.5K", "131.5K"),
        ("total", "131618", "131618"),
    ]


def test_a_model_that_shrank_below_the_unit_gets_a_smaller_unit(tmp_path):
    # The page still says 6.74B, but the target is now SimpleNet (131,618): not "0.00B".
    page = tmp_path / "page.rst"
    page.write_text(".. paramcount:: tests.models.seed:SimpleNet\n   :total: 6.74B\n   :expect: fc2=1.5K\n")
    assert main(["update", str(page), "--write"]) == 0
    assert page.read_text() == ".. paramcount:: tests.models.seed:SimpleNet\n   :total: 131.62K\n   :expect: fc2=66\n"
    assert main(["update", str(page), "--check"]) == 0
