"""ViT-B/16 as torchvision lays it out (the code copy is in ``real_layouts``), for the browser test's page."""

from __future__ import annotations

from tests.models.real_layouts import VisionTransformer


def vit_b_16() -> VisionTransformer:
    """``torchvision.models.vit_b_16()``'s layout: 86,567,656 parameters."""
    return VisionTransformer()
