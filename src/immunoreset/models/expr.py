"""The expression language of model specs: a small, checked subset of Python arithmetic.

Allowed: numbers, names, ``+ - * / **``, unary minus, and the functions ``exp``, ``log``, ``sqrt``,
``abs``, ``max`` and ``min`` (two arguments). Every consumer of a spec (the numerical engines, the
SBML exporter, the documentation) translates the same parsed tree, so a model's equations are written
exactly once.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping
from functools import lru_cache

from immunoreset.errors import InvalidInput

__all__ = ["FUNCTIONS", "names", "parse", "to_python", "to_sbml"]

FUNCTIONS: dict[str, int] = {"exp": 1, "log": 1, "sqrt": 1, "abs": 1, "max": 2, "min": 2}

_BINOPS: dict[type[ast.operator], str] = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}


@lru_cache(maxsize=4096)
def parse(text: str) -> ast.expr:
    """Parse and validate one expression; raise :class:`InvalidInput` naming the problem."""
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except SyntaxError as err:
        raise InvalidInput("expression", text, f"a valid arithmetic expression ({err.msg})") from None
    _check(tree, text)
    return tree


def _check(node: ast.expr, text: str) -> None:
    if isinstance(node, ast.Constant):
        if not isinstance(node.value, int | float) or isinstance(node.value, bool):
            raise InvalidInput("expression", text, "numbers only as constants")
    elif isinstance(node, ast.Name):
        pass
    elif isinstance(node, ast.BinOp):
        if type(node.op) not in _BINOPS:
            raise InvalidInput("expression", text, "only + - * / ** operators")
        _check(node.left, text)
        _check(node.right, text)
    elif isinstance(node, ast.UnaryOp):
        if not isinstance(node.op, ast.USub | ast.UAdd):
            raise InvalidInput("expression", text, "only unary minus")
        _check(node.operand, text)
    elif isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            raise InvalidInput("expression", text, f"calls only to {sorted(FUNCTIONS)}")
        if len(node.args) != FUNCTIONS[node.func.id] or node.keywords:
            raise InvalidInput("expression", text, f"{node.func.id} with {FUNCTIONS[node.func.id]} argument(s)")
        for arg in node.args:
            _check(arg, text)
    else:
        raise InvalidInput("expression", text, "arithmetic on numbers and names only")


def names(text: str) -> set[str]:
    """The variable names an expression reads (function names excluded)."""
    found: set[str] = set()
    funcs: set[int] = set()
    for node in ast.walk(parse(text)):
        if isinstance(node, ast.Call):
            funcs.add(id(node.func))
        elif isinstance(node, ast.Name) and id(node) not in funcs:
            found.add(node.id)
    return found


def _render(node: ast.expr, name: Callable[[str], str], call: Callable[[str, list[str]], str], power: str) -> str:
    if isinstance(node, ast.Constant):
        value = node.value
        assert isinstance(value, int | float)
        return repr(float(value))
    if isinstance(node, ast.Name):
        return name(node.id)
    if isinstance(node, ast.UnaryOp):
        inner = _render(node.operand, name, call, power)
        return f"(-{inner})" if isinstance(node.op, ast.USub) else inner
    if isinstance(node, ast.BinOp):
        left = _render(node.left, name, call, power)
        right = _render(node.right, name, call, power)
        op = power if isinstance(node.op, ast.Pow) else _BINOPS[type(node.op)]
        return f"({left} {op} {right})"
    assert isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    return call(node.func.id, [_render(a, name, call, power) for a in node.args])


def to_python(text: str, rename: Mapping[str, str] | None = None, np_name: str = "np") -> str:
    """Python/NumPy source for an expression (works on scalars and on arrays of patients)."""
    mapping = rename or {}
    funcs = {"exp": "exp", "log": "log", "sqrt": "sqrt", "abs": "abs", "max": "maximum", "min": "minimum"}

    def call(fn: str, args: list[str]) -> str:
        return f"{np_name}.{funcs[fn]}({', '.join(args)})"

    return _render(parse(text), lambda n: mapping.get(n, n), call, "**")


def to_sbml(text: str, rename: Mapping[str, str] | None = None) -> str:
    """SBML Level 3 infix formula. ``max``/``min`` are written with ``abs`` (no extra root functions):
    ``max(a, b) = (a + b + abs(a - b))/2`` — this keeps libRoadRunner from adding a root per guard."""
    mapping = rename or {}

    def call(fn: str, args: list[str]) -> str:
        if fn == "max":
            a, b = args
            return f"(({a} + {b} + abs({a} - {b}))/2)"
        if fn == "min":
            a, b = args
            return f"(({a} + {b} - abs({a} - {b}))/2)"
        if fn == "log":
            return f"ln({args[0]})"
        return f"{fn}({', '.join(args)})"

    return _render(parse(text), lambda n: mapping.get(n, n), call, "^")
