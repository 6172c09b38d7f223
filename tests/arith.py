"""Evaluating a substituted derivation, as a reader would: plain arithmetic only."""

from __future__ import annotations

import ast


def latex_value(latex: str) -> int:
    """``4 \\times (3 + 2) + 1{,}024`` -> 1044: ints, +, *, ^ and parentheses, nothing else.

    A row that adds nothing says so in words (``tied to ...``, ``same module as ...``): 0.
    """
    if latex.startswith((r"\text{tied to }", r"\text{same module as }")):
        return 0
    assert r"\mathtt" not in latex and "|" not in latex, latex  # sizes are substituted, not named
    tree = ast.parse(latex.replace(r"\times", "*").replace("{,}", "").replace("^", "**"), mode="eval")

    def value(node: ast.AST) -> int:
        if isinstance(node, ast.Constant) and type(node.value) is int:
            return node.value
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            return value(node.left) + value(node.right)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
            return value(node.left) * value(node.right)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):  # attention's T^2 (MACs)
            return int(value(node.left) ** value(node.right))
        raise AssertionError(f"not plain arithmetic: {ast.dump(node)} in {latex!r}")

    return value(tree.body)
