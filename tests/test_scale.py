"""Large and deep models: exact counts, collapsed and depth-limited views, lazy modules, the cache."""

from __future__ import annotations

import textwrap

import pytest

from sphinx_paramcount import cache
from sphinx_paramcount.api import explain
from sphinx_paramcount.errors import InstantiateError, LazyError
from sphinx_paramcount.render import to_text
from sphinx_paramcount.views import collapse_repeats, counted, rows_at_depth


def test_llama2_70b_sized_decoder_counts_exactly_on_meta():
    report = explain("tests.models.scale:llama2_70b")
    assert report.method == "meta"
    assert report.total == 68_976_648_192
    assert report.bytes_by_dtype == {"float32": 68_976_648_192 * 4}
    rows = collapse_repeats(report, report.rows)
    head = next(r for r in rows if r.repeat > 1)
    assert head.name == "layers.0–79"
    assert head.repeat == 80
    assert head.params == 80 * 855_654_400
    assert head.derivation == r"80 \times 855{,}654{,}400"
    # The block's own rows follow once, as detail rows, and add nothing again.
    details = [r for r in rows if r.detail]
    assert [r.name for r in details][:3] == ["layers.0.q_proj", "layers.0.k_proj", "layers.0.v_proj"]
    assert sum(r.params for r in details) == 855_654_400
    assert sum(r.params for r in counted(rows)) == report.total
    assert [r.name for r in counted(rows)] == ["embed_tokens", "layers.0–79", "norm", "lm_head"]


def test_collapsed_row_equals_the_rows_it_replaces():
    report = explain("tests.models.scale:tiny_decoder")
    rows = collapse_repeats(report, report.rows)
    head = next(r for r in rows if r.repeat > 1)
    replaced = [r for r in report.rows if r.name.startswith("layers.")]
    assert head.params == sum(r.params for r in replaced) == 4 * 36_992
    assert report.total == 100 * 64 + 4 * 36_992 + 64 + 64 * 100 == 160_832


def test_expand_repeats_keeps_every_row():
    report = explain("tests.models.scale:tiny_decoder")
    assert len(rows_at_depth(report, None)) == len(report.rows) == 1 + 4 * 9 + 2


def test_depth_collapses_subtrees_into_sums():
    report = explain("tests.models.scale:tiny_decoder")
    rows = rows_at_depth(report, 1)
    assert [r.name for r in rows] == ["embed_tokens", "layers", "norm", "lm_head"]
    layers = rows[1]
    assert layers.params == 147_968
    # Four equal blocks: grouped, not a 36-term sum.
    assert layers.derivation == r"4 \times 36{,}992"
    assert layers.label == "ModuleList: 4 × DecoderBlock"
    assert sum(r.params for r in rows) == report.total
    root = rows_at_depth(report, 0)
    assert [(r.name, r.params) for r in root] == [("", 160_832)]


def test_lazy_model_needs_an_input_shape():
    with pytest.raises(LazyError) as info:
        explain("tests.models.scale:LazyNet")
    assert "features.0 (LazyConv2d), head (LazyLinear)" in info.value.message
    assert "input-shape" in info.value.hint


def test_input_shape_materialises_lazy_modules_and_adds_output_shapes():
    report = explain("tests.models.scale:LazyNet", input_shape=(1, 3, 8, 8))
    # Conv2d(3, 8, 3): 8*3*3*3 + 8 = 224; Linear(8*6*6=288, 10): 2890.
    assert [(r.name, r.label, r.params, r.output_shape) for r in report.rows] == [
        ("features.0", "Conv2d(3, 8, k=3)", 224, "(1, 8, 6, 6)"),
        ("head", "Linear(288, 10)", 2890, "(1, 10)"),
    ]
    assert report.total == 3114


def test_forward_that_fails_names_the_layer():
    with pytest.raises(InstantiateError) as info:
        explain("torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Linear(5, 2))", input_shape=(1, 4))
    assert "in layer '1' (Linear)" in info.value.message


def test_cache_builds_a_target_once_and_rebuilds_when_its_source_changes(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    source = tmp_path / "cached_model_mod.py"
    source.write_text(
        textwrap.dedent(
            """
            import torch.nn as nn

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.fc = nn.Linear(4, 2)
            """
        )
    )
    cache.clear()
    builds = cache.stats["builds"]
    assert cache.cached_explain("cached_model_mod:Net").total == 10
    assert cache.cached_explain("cached_model_mod:Net").total == 10
    assert cache.stats["builds"] == builds + 1
    import os

    source.write_text(source.read_text().replace("nn.Linear(4, 2)", "nn.Linear(4, 3)"))
    stat = source.stat()
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert cache.cached_explain("cached_model_mod:Net").total == 15
    assert cache.stats["builds"] == builds + 2


def test_text_table_marks_detail_rows():
    report = explain("tests.models.scale:tiny_decoder")
    text = to_text(report, collapse_repeats(report, report.rows))
    assert "layers.0–3" in text
    assert "4 × DecoderBlock" in text
    assert "(4,096)" in text  # a detail row's count, already in the row above
