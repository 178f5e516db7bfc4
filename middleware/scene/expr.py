"""A small, safe expression language for scene conditions (``when: weather == 'storm' and intensity > 0.4``).

Why our own: a scene file is data a designer (or a mod author) writes, and the runtime evaluates it
many times a second. Python's ``eval`` would hand that text the whole interpreter; this module has a
tokenizer, a recursive-descent parser to a tiny AST, a type checker that knows the scene's names,
and a compiler to nested closures. There is no ``eval``, ``exec`` or ``compile`` anywhere, no
attribute access, no subscripts, no calls except four whitelisted functions, and the input size and
nesting depth are bounded, so parsing any string takes time linear in its (bounded) length.

Grammar (lowest precedence first; operators behave exactly as in Python except where noted)::

    expr       := or_expr
    or_expr    := and_expr ('or' and_expr)*
    and_expr   := not_expr ('and' not_expr)*
    not_expr   := 'not' not_expr | comparison
    comparison := sum [ ('=='|'!='|'<'|'<='|'>'|'>=') sum | ['not'] 'in' '[' [expr (',' expr)*] ']' ]
    sum        := term (('+'|'-') term)*
    term       := unary (('*'|'/') unary)*
    unary      := ('-'|'+') unary | primary
    primary    := NUMBER | STRING | 'true' | 'false' | NAME | FUNC '(' args ')' | '(' expr ')'

Differences from Python, on purpose: comparisons do not chain (``a < b < c`` is an error: say
``a < b and b < c``); ``and``/``or`` always give a bool; ``x / 0`` gives 0.0 instead of raising,
because a condition evaluated on the control thread must never throw.

Types: parameters are numbers; state groups and switches are text restricted to their declared
values; ``and``/``or``/``not`` need bools; arithmetic and ``< <= > >=`` need numbers; ``==``/``!=``
need two sides of the same type. The checker rejects unknown names and literal values that are not
in a group (``weather == 'stormy'`` when weather is ``[clear, rain, storm]``).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from ..errors import SceneError
from ..hints import did_you_mean, suggestion

MAX_LENGTH = 2000
"""Longest accepted expression (characters). Real conditions are one line."""
MAX_TOKENS = 400
"""Most tokens (names, numbers, operators) in one expression; bounds the AST's size and depth."""
MAX_DEPTH = 48
"""Deepest accepted nesting (parentheses, unary operators, operands). Bounds recursion."""

FUNCTIONS: dict[str, tuple[int, int]] = {"min": (2, 8), "max": (2, 8), "abs": (1, 1), "clamp": (3, 3)}
"""Whitelisted functions and their (min, max) argument counts. All take and return numbers."""

KEYWORDS = frozenset({"and", "or", "not", "in", "true", "false"})
_FORBIDDEN_WORDS = {
    "lambda": "lambdas are not supported",
    "import": "imports are not supported",
    "if": "conditional expressions are not supported; use 'and'/'or'",
    "else": "conditional expressions are not supported; use 'and'/'or'",
    "for": "comprehensions are not supported",
    "is": "use '==' or '!=' instead of 'is'",
    "None": "there is no None; compare with a value",
    "True": "write booleans as 'true' or 'false'",
    "False": "write booleans as 'true' or 'false'",
}


class ExprError(SceneError):
    """An expression could not be parsed. ``pos`` is the 0-based character offset of the problem."""

    def __init__(self, message: str, pos: int, source: str, hint: str = "") -> None:
        super().__init__(f"{message} at column {pos + 1} of {source!r}")
        self.reason = message
        self.pos = pos
        self.source = source
        self.hint = hint


def caret(source: str, pos: int) -> str:
    """The expression and a caret under ``pos``: what a designer needs to find the spot."""
    line = source.replace("\n", " ")
    pos = max(0, min(pos, len(line)))
    return f"    {line}\n    {' ' * pos}^"


# ---------------------------------------------------------------------------------------------
# Tokens


@dataclass(frozen=True)
class Token:
    kind: str  # "num", "str", "name", "op", "end"
    text: str
    pos: int
    value: object = None


_OPS2 = ("==", "!=", "<=", ">=")
_OPS1 = "<>+-*/(),[]"
_HINT_CHAR = {
    ".": ("attribute access ('.') is not allowed", "expressions read scene names only"),
    "=": ("'=' is assignment; use '==' to compare", ""),
    "&": ("use 'and' instead of '&'", ""),
    "|": ("use 'or' instead of '|'", ""),
    "!": ("use 'not' instead of '!'", ""),
    "{": ("braces are not supported", "lists are written [a, b]"),
    "}": ("braces are not supported", "lists are written [a, b]"),
    ";": ("';' is not allowed: an expression is a single condition", ""),
    ":": ("':' is not allowed here", "if this is YAML, quote the whole expression"),
    "%": ("'%' is not supported", "operators: + - * /"),
    "@": ("'@' is not supported", ""),
    "`": ("backticks are not supported", "quote text with ' or \""),
    "\\": ("backslashes are not allowed", ""),
}


def tokenize(source: str) -> list[Token]:
    """Split ``source`` into tokens, rejecting any character the grammar does not use."""
    if not isinstance(source, str):
        raise ExprError("expression must be text", 0, str(source))
    if len(source) > MAX_LENGTH:
        raise ExprError(
            f"expression is too long ({len(source)} characters, at most {MAX_LENGTH})",
            0,
            source[:60] + "...",
            "split it into simpler conditions",
        )
    toks: list[Token] = []
    i, n = 0, len(source)
    while i < n:
        c = source[i]
        if c in " \t\r\n":
            i += 1
            continue
        if c.isdigit() or (c == "." and i + 1 < n and source[i + 1].isdigit()):
            j = i
            while j < n and source[j].isdigit():
                j += 1
            if j < n and source[j] == ".":
                j += 1
                while j < n and source[j].isdigit():
                    j += 1
            if j < n and source[j] in "eE":
                k = j + 1
                if k < n and source[k] in "+-":
                    k += 1
                if k < n and source[k].isdigit():
                    while k < n and source[k].isdigit():
                        k += 1
                    j = k
            text = source[i:j]
            value = float(text)
            if not math.isfinite(value):
                raise ExprError(f"number {text} is too large", i, source)
            if j < n and (source[j].isalpha() or source[j] == "_"):
                raise ExprError(f"unexpected {source[j]!r} after number {text}", j, source)
            toks.append(Token("num", text, i, value))
            i = j
            continue
        if c.isalpha() or c == "_":
            j = i
            while j < n and (source[j].isalnum() or source[j] == "_"):
                j += 1
            word = source[i:j]
            if word.startswith("__"):
                raise ExprError(
                    f"names starting with '__' are not allowed ({word!r})",
                    i,
                    source,
                    "expressions read parameters, states and switches only",
                )
            if word in _FORBIDDEN_WORDS:
                raise ExprError(f"{_FORBIDDEN_WORDS[word]} ({word!r})", i, source)
            toks.append(Token("name", word, i, word))
            i = j
            continue
        if c in "'\"":
            j = source.find(c, i + 1)
            if j < 0:
                raise ExprError(
                    "unterminated text: missing closing quote", i, source, f"add a {c} at the end"
                )
            text = source[i + 1 : j]
            if "\\" in text:
                raise ExprError("backslashes are not allowed in text", i + 1 + text.index("\\"), source)
            toks.append(Token("str", source[i : j + 1], i, text))
            i = j + 1
            continue
        two = source[i : i + 2]
        if two in _OPS2:
            toks.append(Token("op", two, i))
            i += 2
            continue
        if c in _OPS1:
            toks.append(Token("op", c, i))
            i += 1
            continue
        msg, hint = _HINT_CHAR.get(c, (f"unexpected character {c!r}", ""))
        raise ExprError(msg, i, source, hint)
    toks.append(Token("end", "", n))
    return toks


def _check_size(toks: list[Token], source: str) -> None:
    if len(toks) > MAX_TOKENS:
        raise ExprError(
            f"expression is too complex ({len(toks) - 1} tokens, at most {MAX_TOKENS})",
            toks[MAX_TOKENS].pos,
            source,
            "split it into simpler conditions",
        )


# ---------------------------------------------------------------------------------------------
# AST


@dataclass(frozen=True)
class Node:
    pos: int


@dataclass(frozen=True)
class Num(Node):
    value: float


@dataclass(frozen=True)
class Str(Node):
    value: str


@dataclass(frozen=True)
class Bool(Node):
    value: bool


@dataclass(frozen=True)
class Name(Node):
    name: str


@dataclass(frozen=True)
class Unary(Node):
    op: str  # "-", "+", "not"
    operand: Node


@dataclass(frozen=True)
class Binary(Node):
    op: str  # "+", "-", "*", "/", "and", "or", "==", "!=", "<", "<=", ">", ">="
    left: Node
    right: Node


@dataclass(frozen=True)
class In(Node):
    left: Node
    items: tuple[Node, ...]
    negate: bool


@dataclass(frozen=True)
class Call(Node):
    func: str
    args: tuple[Node, ...]


_COMPARE = ("==", "!=", "<", "<=", ">", ">=")


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.toks = tokenize(source)
        _check_size(self.toks, source)
        self.i = 0
        self.depth = 0

    # helpers
    @property
    def tok(self) -> Token:
        return self.toks[self.i]

    def _is(self, kind: str, text: str | None = None) -> bool:
        t = self.tok
        return t.kind == kind and (text is None or t.text == text)

    def _word(self, word: str) -> bool:
        return self.tok.kind == "name" and self.tok.text == word

    def _advance(self) -> Token:
        t = self.toks[self.i]
        self.i += 1
        return t

    def _fail(self, message: str, pos: int | None = None, hint: str = "") -> ExprError:
        return ExprError(message, self.tok.pos if pos is None else pos, self.source, hint)

    def _enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self._fail(f"expression is nested too deeply (more than {MAX_DEPTH} levels)")

    def _describe(self, t: Token) -> str:
        return "the end of the expression" if t.kind == "end" else repr(t.text)

    # grammar
    def parse(self) -> Node:
        if self.tok.kind == "end":
            raise self._fail("empty expression", hint="write a condition such as intensity > 0.5")
        node = self.expr()
        t = self.tok
        if t.kind != "end":
            if t.kind == "op" and t.text == "[":
                raise self._fail("subscripts ('[...]') are not allowed", hint="lists only follow 'in'")
            if t.kind == "op" and t.text == "(":
                raise self._fail("only min, max, abs and clamp can be called")
            if t.kind == "op" and t.text == ")":
                raise self._fail("unmatched ')'")
            raise self._fail(
                f"unexpected {self._describe(t)} after a complete expression",
                hint="join conditions with 'and' / 'or'",
            )
        return node

    def expr(self) -> Node:
        self._enter()
        try:
            return self.or_expr()
        finally:
            self.depth -= 1

    def or_expr(self) -> Node:
        left = self.and_expr()
        while self._word("or"):
            t = self._advance()
            left = Binary(t.pos, "or", left, self._operand_after(t, self.and_expr))
        return left

    def and_expr(self) -> Node:
        left = self.not_expr()
        while self._word("and"):
            t = self._advance()
            left = Binary(t.pos, "and", left, self._operand_after(t, self.not_expr))
        return left

    def _operand_after(self, t: Token, rule: Callable[[], Node]) -> Node:
        if self.tok.kind == "end":
            raise self._fail(f"expected a value after {t.text!r}")
        return rule()

    def not_expr(self) -> Node:
        if self._word("not"):
            t = self._advance()
            self._enter()
            try:
                return Unary(t.pos, "not", self._operand_after(t, self.not_expr))
            finally:
                self.depth -= 1
        return self.comparison()

    def comparison(self) -> Node:
        left = self.sum()
        t = self.tok
        if t.kind == "op" and t.text in _COMPARE:
            self._advance()
            right = self._operand_after(t, self.sum)
            node: Node = Binary(t.pos, t.text, left, right)
        elif self._word("in") or (
            self._word("not") and self.toks[self.i + 1].kind == "name" and self.toks[self.i + 1].text == "in"
        ):
            negate = self._word("not")
            if negate:
                self._advance()
            in_tok = self._advance()
            node = In(t.pos, left, self._list(in_tok), negate)
        else:
            return left
        nt = self.tok
        if (nt.kind == "op" and nt.text in _COMPARE) or self._word("in"):
            raise self._fail(
                "comparisons cannot be chained",
                hint="write 'a < b and b < c' instead of 'a < b < c'",
            )
        return node

    def _list(self, in_tok: Token) -> tuple[Node, ...]:
        if not self._is("op", "["):
            raise self._fail("expected '[' after 'in'", hint="write: weather in ['rain', 'storm']")
        open_tok = self._advance()
        items: list[Node] = []
        if self._is("op", "]"):
            self._advance()
            return ()
        while True:
            if self.tok.kind == "end":
                raise self._fail("unclosed '['", pos=open_tok.pos, hint="add ']'")
            items.append(self.expr())
            if self._is("op", ","):
                self._advance()
                if self._is("op", "]"):
                    self._advance()
                    return tuple(items)
                continue
            if self._is("op", "]"):
                self._advance()
                return tuple(items)
            if self.tok.kind == "end":
                raise self._fail("unclosed '['", pos=open_tok.pos, hint="add ']'")
            raise self._fail(f"expected ',' or ']' in the list after 'in', got {self._describe(self.tok)}")

    def sum(self) -> Node:
        left = self.term()
        while self.tok.kind == "op" and self.tok.text in "+-":
            t = self._advance()
            left = Binary(t.pos, t.text, left, self._operand_after(t, self.term))
        return left

    def term(self) -> Node:
        left = self.unary()
        while self.tok.kind == "op" and self.tok.text in "*/":
            t = self._advance()
            left = Binary(t.pos, t.text, left, self._operand_after(t, self.unary))
        return left

    def unary(self) -> Node:
        if self.tok.kind == "op" and self.tok.text in "+-":
            t = self._advance()
            self._enter()
            try:
                return Unary(t.pos, t.text, self._operand_after(t, self.unary))
            finally:
                self.depth -= 1
        return self.primary()

    def primary(self) -> Node:
        t = self.tok
        if t.kind == "num":
            self._advance()
            node: Node = Num(t.pos, float(t.value))  # type: ignore[arg-type]
        elif t.kind == "str":
            self._advance()
            node = Str(t.pos, str(t.value))
        elif t.kind == "name" and t.text in ("true", "false"):
            self._advance()
            node = Bool(t.pos, t.text == "true")
        elif t.kind == "name" and t.text in KEYWORDS:
            raise self._fail(f"expected a value, got keyword {t.text!r}")
        elif t.kind == "name":
            self._advance()
            node = self._call(t) if self._is("op", "(") else Name(t.pos, t.text)
        elif t.kind == "op" and t.text == "(":
            self._advance()
            if self._is("op", ")"):
                raise self._fail("empty parentheses", hint="tuples are not supported")
            inner = self.expr()
            if not self._is("op", ")"):
                if self.tok.kind == "end":
                    raise self._fail("unclosed '('", pos=t.pos, hint="add ')'")
                raise self._fail(f"expected ')', got {self._describe(self.tok)}")
            self._advance()
            node = inner
        elif t.kind == "end":
            raise self._fail("expected a value, got the end of the expression")
        elif t.kind == "op" and t.text == "[":
            raise self._fail("lists are only allowed after 'in'")
        else:
            raise self._fail(f"expected a value, got {t.text!r}")
        nt = self.tok
        if nt.kind == "op" and nt.text == "[":
            raise self._fail(
                "subscripts ('[...]') are not allowed", hint="expressions read whole values only"
            )
        if nt.kind == "op" and nt.text == "(":
            raise self._fail("only min, max, abs and clamp can be called")
        return node

    def _call(self, name_tok: Token) -> Node:
        func = name_tok.text
        if func not in FUNCTIONS:
            raise self._fail(
                f"unknown function {func!r}",
                pos=name_tok.pos,
                hint=did_you_mean(func, FUNCTIONS, "functions"),
            )
        open_tok = self._advance()
        args: list[Node] = []
        if not self._is("op", ")"):
            while True:
                if self.tok.kind == "end":
                    raise self._fail("unclosed '('", pos=open_tok.pos, hint="add ')'")
                args.append(self.expr())
                if self._is("op", ","):
                    self._advance()
                    continue
                if self._is("op", ")"):
                    break
                if self.tok.kind == "end":
                    raise self._fail("unclosed '('", pos=open_tok.pos, hint="add ')'")
                raise self._fail(f"expected ',' or ')' in the call to {func}, got {self._describe(self.tok)}")
        self._advance()
        lo, hi = FUNCTIONS[func]
        if not lo <= len(args) <= hi:
            want = str(lo) if lo == hi else f"{lo} to {hi}"
            raise ExprError(f"{func}() takes {want} arguments, got {len(args)}", name_tok.pos, self.source)
        return Call(name_tok.pos, func, tuple(args))


def parse(source: str) -> Node:
    """Parse ``source`` to an AST, or raise :class:`ExprError` with the offending position."""
    return _Parser(source).parse()


# ---------------------------------------------------------------------------------------------
# Type checking against the scene


@dataclass(frozen=True)
class NameInfo:
    """What a name in an expression stands for: a number, or text with a closed set of values."""

    kind: str  # "parameter", "state", "switch", "local parameter"
    values: tuple[str, ...] | None = None  # None: a number

    @property
    def type(self) -> str:
        return "number" if self.values is None else "text"


@dataclass(frozen=True)
class ExprProblem:
    """A type or name problem found by :func:`check`: where, what, and a hint."""

    pos: int
    message: str
    hint: str = ""


@dataclass
class _Ty:
    name: str  # "number", "text", "bool", "unknown"
    group: str | None = None
    kind: str = ""
    values: tuple[str, ...] | None = None


_UNKNOWN = _Ty("unknown")


def check(node: Node, scope: Mapping[str, NameInfo], want: str = "bool") -> list[ExprProblem]:
    """Type-check ``node`` against the names a scene declares; return every problem found."""
    problems: list[ExprProblem] = []

    def fail(pos: int, msg: str, hint: str = "") -> _Ty:
        problems.append(ExprProblem(pos, msg, hint))
        return _UNKNOWN

    def need(ty: _Ty, expect: str, n: Node, what: str) -> None:
        if ty.name not in (expect, "unknown"):
            fail(n.pos, f"{what} needs a {expect}, got {_describe_ty(ty)}")

    def literal_in_group(group_ty: _Ty, lit: Node) -> None:
        if isinstance(lit, Str) and group_ty.values is not None and lit.value not in group_ty.values:
            close = suggestion(lit.value, group_ty.values)
            hint = f"{close} " if close else ""
            fail(
                lit.pos,
                f"{group_ty.kind} {group_ty.group!r} has no value {lit.value!r}",
                hint + "values: " + ", ".join(group_ty.values),
            )

    def visit(n: Node) -> _Ty:
        if isinstance(n, Num):
            return _Ty("number")
        if isinstance(n, Str):
            return _Ty("text")
        if isinstance(n, Bool):
            return _Ty("bool")
        if isinstance(n, Name):
            info = scope.get(n.name)
            if info is None:
                close = suggestion(n.name, scope)
                if close:
                    hint = close
                elif scope:
                    hint = "names you can use: " + ", ".join(sorted(scope)[:12])
                else:
                    hint = "declare it under parameters:, states: or switches:"
                if n.name in ("sin", "cos", "sqrt", "round", "int", "float", "len", "str"):
                    hint = "functions: " + ", ".join(FUNCTIONS)
                return fail(n.pos, f"unknown name {n.name!r}", hint)
            if info.values is None:
                return _Ty("number", n.name, info.kind)
            return _Ty("text", n.name, info.kind, info.values)
        if isinstance(n, Unary):
            ty = visit(n.operand)
            if n.op == "not":
                need(ty, "bool", n.operand, "'not'")
                return _Ty("bool")
            need(ty, "number", n.operand, f"unary {n.op!r}")
            return _Ty("number")
        if isinstance(n, Binary):
            lt, rt = visit(n.left), visit(n.right)
            if n.op in ("and", "or"):
                need(lt, "bool", n.left, f"{n.op!r}")
                need(rt, "bool", n.right, f"{n.op!r}")
                return _Ty("bool")
            if n.op in ("+", "-", "*", "/"):
                need(lt, "number", n.left, f"{n.op!r}")
                need(rt, "number", n.right, f"{n.op!r}")
                return _Ty("number")
            if n.op in ("<", "<=", ">", ">="):
                need(lt, "number", n.left, f"{n.op!r}")
                need(rt, "number", n.right, f"{n.op!r}")
                return _Ty("bool")
            # == / !=
            if "unknown" not in (lt.name, rt.name) and lt.name != rt.name:
                return fail(n.pos, f"{n.op!r} compares {_describe_ty(lt)} with {_describe_ty(rt)}")
            if lt.values is not None and rt.values is not None and set(lt.values) != set(rt.values):
                return fail(
                    n.pos,
                    f"{n.op!r} compares {_describe_ty(lt)} with {_describe_ty(rt)}: their values differ",
                    "compare a group with one of its values, e.g. weather == 'rain'",
                )
            literal_in_group(lt, n.right)
            literal_in_group(rt, n.left)
            return _Ty("bool")
        if isinstance(n, In):
            lt = visit(n.left)
            for item in n.items:
                it = visit(item)
                if "unknown" not in (lt.name, it.name) and lt.name != it.name:
                    fail(
                        item.pos,
                        f"'in' list item is {_describe_ty(it)} but the left side is {_describe_ty(lt)}",
                    )
                else:
                    literal_in_group(lt, item)
            return _Ty("bool")
        if isinstance(n, Call):
            for a in n.args:
                need(visit(a), "number", a, f"{n.func}()")
            return _Ty("number")
        raise AssertionError(f"unknown node {n!r}")  # pragma: no cover

    ty = visit(node)
    if not problems and want != "any" and ty.name not in (want, "unknown"):
        hint = "compare it, e.g. intensity > 0.5" if want == "bool" else ""
        problems.append(ExprProblem(node.pos, f"expected a {want} condition, got {_describe_ty(ty)}", hint))
    return problems


def _describe_ty(ty: _Ty) -> str:
    if ty.group:
        return f"{ty.kind} {ty.group!r} ({ty.name})"
    return {"bool": "a bool", "number": "a number", "text": "text"}.get(ty.name, ty.name)


def names_in(node: Node) -> frozenset[str]:
    """Every scene name the expression reads, so a runtime re-evaluates it only when one changes."""
    out: set[str] = set()

    def visit(n: Node) -> None:
        if isinstance(n, Name):
            out.add(n.name)
        elif isinstance(n, Unary):
            visit(n.operand)
        elif isinstance(n, Binary):
            visit(n.left)
            visit(n.right)
        elif isinstance(n, In):
            visit(n.left)
            for i in n.items:
                visit(i)
        elif isinstance(n, Call):
            for a in n.args:
                visit(a)

    visit(node)
    return frozenset(out)


# ---------------------------------------------------------------------------------------------
# Compilation to closures (no eval)

Env = Mapping[str, "float | str"]
_BINOPS: dict[str, Callable[[object, object], object]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def _clamp(x: float, lo: float, hi: float) -> float:
    return min(max(x, lo), hi)


_FUNCS: dict[str, Callable[..., float]] = {"min": min, "max": max, "abs": abs, "clamp": _clamp}


def compile_node(node: Node) -> Callable[[Env], object]:
    """Turn an AST into a closure ``env -> value``: one Python call per node, no interpretation loop."""
    if isinstance(node, Num | Str | Bool):
        v = node.value
        return lambda env: v
    if isinstance(node, Name):
        key = node.name
        return lambda env: env[key]
    if isinstance(node, Unary):
        f = compile_node(node.operand)
        if node.op == "not":
            return lambda env: not f(env)
        if node.op == "-":
            return lambda env: -f(env)  # type: ignore[operator]
        return lambda env: +f(env)  # type: ignore[operator]
    if isinstance(node, Binary):
        lf, rf = compile_node(node.left), compile_node(node.right)
        if node.op == "and":
            return lambda env: bool(lf(env)) and bool(rf(env))
        if node.op == "or":
            return lambda env: bool(lf(env)) or bool(rf(env))
        if node.op == "/":

            def div(env: Env) -> float:
                d = rf(env)
                return lf(env) / d if d != 0 else 0.0  # type: ignore[operator]

            return div
        op = _BINOPS[node.op]
        return lambda env: op(lf(env), rf(env))
    if isinstance(node, In):
        lf = compile_node(node.left)
        consts = all(isinstance(i, Num | Str | Bool) for i in node.items)
        if consts:
            values = tuple(i.value for i in node.items)  # type: ignore[attr-defined]
            if node.negate:
                return lambda env: lf(env) not in values
            return lambda env: lf(env) in values
        items = tuple(compile_node(i) for i in node.items)
        if node.negate:
            return lambda env: lf(env) not in tuple(f(env) for f in items)
        return lambda env: lf(env) in tuple(f(env) for f in items)
    if isinstance(node, Call):
        fn = _FUNCS[node.func]
        args = tuple(compile_node(a) for a in node.args)
        return lambda env: fn(*(a(env) for a in args))
    raise AssertionError(f"unknown node {node!r}")  # pragma: no cover


@dataclass(frozen=True)
class Expression:
    """A parsed, compiled expression. ``names`` lists every scene name it reads."""

    source: str
    ast: Node = field(repr=False, compare=False)
    names: frozenset[str] = field(compare=False)
    _fn: Callable[[Env], object] = field(repr=False, compare=False)

    @classmethod
    def parse(cls, source: str) -> Expression:
        """Parse and compile; raises :class:`ExprError` (a ``SceneError``) on a syntax error."""
        node = parse(source)
        return cls(source, node, names_in(node), compile_node(node))

    def value(self, env: Env) -> object:
        """Evaluate with ``env`` mapping every name in ``names`` to its current value."""
        return self._fn(env)


@dataclass(frozen=True)
class Condition(Expression):
    """A boolean expression: a layer's ``when:``, a snapshot's or a music segment's trigger."""

    def evaluate(self, env: Env) -> bool:
        """True when the condition holds for the current parameter/state/switch values in ``env``."""
        return bool(self._fn(env))


def condition(source: str) -> Condition:
    """Parse a condition (shorthand for :meth:`Condition.parse`)."""
    return Condition.parse(source)  # type: ignore[return-value]


def scope_of(
    parameters: Iterable[str] = (),
    states: Mapping[str, Iterable[str]] | None = None,
    switches: Mapping[str, Iterable[str]] | None = None,
) -> dict[str, NameInfo]:
    """Build a type-checking scope from plain names (handy in code and tests)."""
    scope = {p: NameInfo("parameter") for p in parameters}
    for g, vals in (states or {}).items():
        scope[g] = NameInfo("state", tuple(vals))
    for g, vals in (switches or {}).items():
        scope[g] = NameInfo("switch", tuple(vals))
    return scope
