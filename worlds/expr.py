"""A tiny, safe arithmetic language for route curves in world files.

World files are data a colleague may mail you, so a curve such as
``y = "clip(-1 + 2*t + 0.8*sin(pi*t), -1, 1)"`` is parsed with :mod:`ast` and
evaluated from a whitelist of nodes: no names but ``t`` and ``pi``, no calls but
the functions below, no attributes, no subscripts. Nothing is ever ``eval``-ed.
"""
from __future__ import annotations

import ast
import math
from typing import Callable

import numpy as np

FUNCTIONS: dict[str, Callable[..., np.ndarray]] = {
    "sin": np.sin, "cos": np.cos, "tan": np.tan, "exp": np.exp, "sqrt": np.sqrt,
    "abs": np.abs, "tanh": np.tanh, "clip": np.clip, "min": np.minimum, "max": np.maximum,
}
ARITY = {"sin": 1, "cos": 1, "tan": 1, "exp": 1, "sqrt": 1, "abs": 1, "tanh": 1,
         "clip": 3, "min": 2, "max": 2}   # numpy would take an extra argument as `out=`
CONSTANTS = {"pi": math.pi, "e": math.e}
_BINOPS = {ast.Add: np.add, ast.Sub: np.subtract, ast.Mult: np.multiply,
           ast.Div: np.divide, ast.Pow: np.power}
_UNARY = {ast.USub: np.negative, ast.UAdd: np.positive}


class ExpressionError(ValueError):
    """The expression uses something outside the whitelist or is not valid syntax."""


def compile_expression(text: str) -> Callable[[np.ndarray], np.ndarray]:
    """Parse ``text`` once; return ``f(t)`` that evaluates it on an array of ``t``."""
    if not isinstance(text, str) or not text.strip():
        raise ExpressionError("expected a non-empty expression string in t")
    if len(text) > 500:
        raise ExpressionError("expression longer than 500 characters")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(f"not a valid expression: {exc.msg}") from None
    _check(tree.body)

    def evaluate(t: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            out = _eval(tree.body, np.asarray(t, dtype=float))
        return np.broadcast_to(np.asarray(out, dtype=float), np.shape(t)).copy()

    return evaluate


def _check(node: ast.AST) -> None:
    if isinstance(node, ast.Constant):
        if not isinstance(node.value, (int, float)) or isinstance(node.value, bool):
            raise ExpressionError(f"only numbers are allowed, not {node.value!r}")
    elif isinstance(node, ast.Name):
        if node.id != "t" and node.id not in CONSTANTS:
            raise ExpressionError(f"unknown name {node.id!r} (allowed: t, pi, e)")
    elif isinstance(node, ast.BinOp):
        if type(node.op) not in _BINOPS:
            raise ExpressionError(f"operator {type(node.op).__name__} is not allowed")
        _check(node.left)
        _check(node.right)
    elif isinstance(node, ast.UnaryOp):
        if type(node.op) not in _UNARY:
            raise ExpressionError(f"operator {type(node.op).__name__} is not allowed")
        _check(node.operand)
    elif isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            allowed = ", ".join(sorted(FUNCTIONS))
            raise ExpressionError(f"only these functions are allowed: {allowed}")
        if node.keywords:
            raise ExpressionError("keyword arguments are not allowed")
        want = ARITY[node.func.id]
        if len(node.args) != want:
            raise ExpressionError(f"{node.func.id}() takes {want} argument{'s' if want > 1 else ''}, "
                                  f"got {len(node.args)}")
        for arg in node.args:
            _check(arg)
    else:
        raise ExpressionError(f"{type(node).__name__} is not allowed in an expression")


def _eval(node: ast.AST, t: np.ndarray):
    if isinstance(node, ast.Constant):
        return float(node.value)
    if isinstance(node, ast.Name):
        return t if node.id == "t" else CONSTANTS[node.id]
    if isinstance(node, ast.BinOp):
        return _BINOPS[type(node.op)](_eval(node.left, t), _eval(node.right, t))
    if isinstance(node, ast.UnaryOp):
        return _UNARY[type(node.op)](_eval(node.operand, t))
    assert isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    try:
        return FUNCTIONS[node.func.id](*[_eval(a, t) for a in node.args])
    except TypeError as exc:
        raise ExpressionError(f"{node.func.id}(): {exc}") from None
