"""Formula coverage over real architectures (issue 12): every parameter explained.

Each model is built on the meta device (transformers from its default config,
torchvision layouts as code copies) and counted; a row "explains" its
parameters when it has a named formula or a legend.  The figures are exact:
the model's total, the parameters left in bare shape products (at most 0.1%
of the model; today none), and as many as with the ``torch.nn`` formulas
alone, which is what this section of the issue measured (68% of GPT-2).
"""

from __future__ import annotations

from typing import Any

import pytest
from bs4 import BeautifulSoup

from sphinx_paramcount.count import count_model
from tests.models.real_layouts import ARCHITECTURES, generic, on_meta, torch_nn_only, uncovered

# model -> (total, parameters in shape products with the torch.nn formulas alone)
EXPECTED = {
    "GPT-2 (transformers)": (124_439_808, 85_017_600),  # the Conv1D layers: 68%
    "GPT-2 + LoRA r=8 (PEFT)": (124_734_720, 85_017_600),
    "BERT-base (transformers)": (109_482_240, 0),
    "T5-small (transformers)": (60_506_624, 16_384),  # T5LayerNorm
    "Llama-2-7B (transformers)": (6_738_415_616, 266_240),  # LlamaRMSNorm
    "Mistral-7B (transformers)": (7_241_732_096, 266_240),
    "Qwen2 (transformers default config)": (12_049_846_272, 266_240),
    "ResNet-50 (torchvision layout)": (25_557_032, 0),
    "ViT-B/16 (torchvision layout)": (86_567_656, 152_064),  # class token and position embedding
    "ConvNeXt-T (torchvision layout)": (28_589_128, 6_624),  # layer scales
    "Swin-T (torchvision layout)": (28_288_354, 23_322),  # relative position bias tables
}


def test_every_architecture_is_measured() -> None:
    assert set(EXPECTED) == set(ARCHITECTURES)


@pytest.mark.parametrize("name", list(EXPECTED))
def test_coverage(name: str) -> None:
    model = on_meta(ARCHITECTURES[name])
    report = count_model(model)
    total, before = EXPECTED[name]
    assert report.total == total == sum(p.numel() for p in model.parameters())
    assert uncovered(report) <= total // 1000  # the bar: at most 0.1%
    assert uncovered(report) == 0
    assert generic(count_model(model, registry=torch_nn_only())) == before
    for row in report.rows:  # what explains a row adds up to it
        if row.legend and row.family == "generic":
            assert sum(v for _, _, v in row.legend) == row.params


def test_gpt2_lora_trainable_figures() -> None:
    """The figures PEFT's print_trainable_parameters() gives for this model."""
    report = count_model(on_meta(ARCHITECTURES["GPT-2 + LoRA r=8 (PEFT)"]))
    assert (report.trainable, report.total) == (294_912, 124_734_720)
    lora = [r for r in report.rows if r.family == "lora"]
    assert len(lora) == 12 and all(r.trainable == 8 * (768 + 2304) for r in lora)


@pytest.mark.sphinx("html", testroot="library-formulas", freshenv=True)
def test_pages_show_library_formulas_and_legends(app: Any, warning: Any) -> None:
    app.build()
    assert app.statuscode == 0, warning.getvalue()
    index = (app.outdir / "index.html").read_text()
    # reST: Conv1D's named formula, substituted, in the table.
    assert "Conv1D(nf=2304, nx=768)" in index
    assert r"\(d_{in} \cdot d_{out} + d_{out}\)" in index
    assert r"\(768 \times 2{,}304 + 2{,}304\)" in index  # digits grouped from 1,000, as the counts
    # The ViT's class token and position embedding: a legend from name and shape.
    text = " ".join(BeautifulSoup(index, "html.parser").get_text().split())
    assert r"Class token, shape 1 × 1 × 768 \(|\mathtt{class\_token}|\): 768" in text
    assert r"Position embedding, shape 1 × 197 × 768 \(|\mathtt{pos\_embedding}|\): 151,296" in text
    # MyST: LoRA beside its frozen base layer, and an RMSNorm of transformers.
    myst = (app.outdir / "myst.html").read_text()
    assert "LoRA Linear(512, 256, r=8)" in myst
    assert r"\(d_{in} \cdot d_{out} + d_{out} + r \cdot (d_{in} + d_{out})\)" in myst
    assert r"\(512 \times 256 + 256 + 8 \times (512 + 256) = 137{,}472\)" in myst
    assert "LoRA rank (adapter ‘default’)" in myst  # Sphinx's smart quotes
    assert "LlamaRMSNorm(4096)" in myst
