"""Code as source: a class or function defined in a notebook, taken with what it uses from the
notebook (`with_prelude`, in the kernel), and run again in the worker (`exec_source`). The grader
runs the learner's code in a fresh process, where only source and plain values can go.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import dis
import inspect
import linecache
import sys
import types
from typing import Any

from .feedback import hint, what, where
from .guard import CourseRefused


def class_source(model_class: type) -> str:
    """The source of a class, also one defined in a notebook cell (inspect cannot find those:
    the class is found through its methods' code, which IPython keeps in linecache)."""
    with contextlib.suppress(TypeError, OSError):
        return inspect.getsource(model_class) + "\n"
    for member in vars(model_class).values():
        code = getattr(getattr(member, "__func__", member), "__code__", None)
        if code is None:
            continue
        lines = linecache.getlines(code.co_filename)
        if not lines:
            continue
        tree = ast.parse("".join(lines))
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and node.name == model_class.__name__ \
                    and node.lineno <= code.co_firstlineno <= node.end_lineno:
                start = node.lineno - 1 - len(node.decorator_list)
                return "".join(lines[start:node.end_lineno]) + "\n"
    raise ValueError(f"the source of {model_class.__name__} cannot be found: define it in a "
                     "notebook cell or a .py file (not with type() or exec)")


def source_of(value: type | types.FunctionType) -> str:
    """The source of a class or a function defined in a notebook cell or a file."""
    if isinstance(value, type):
        return class_source(value)
    try:
        return inspect.getsource(value) + "\n"
    except (TypeError, OSError):
        raise ValueError(f"the source of {value.__name__} cannot be found: define it in a "
                         "notebook cell or a .py file") from None


def _global_names(code: types.CodeType) -> set[str]:
    names = {i.argval for i in dis.get_instructions(code) if i.opname in ("LOAD_GLOBAL", "LOAD_NAME")}
    for constant in code.co_consts:
        if isinstance(constant, types.CodeType):
            names |= _global_names(constant)
    return names


def with_prelude(value: type | types.FunctionType) -> str:
    """The source of a class or function, after what its code uses from its notebook: imports of
    the modules, the values of plain constants, and the source of helper functions and classes.
    ValueError for an object that cannot travel as source (a tensor, say)."""
    return _prelude(value, set()) + source_of(value)


def _prelude(value: type | types.FunctionType, seen: set) -> str:
    space = vars(sys.modules.get(value.__module__, builtins))
    lines = []
    for name in sorted(_global_names(compile(source_of(value), "<code>", "exec"))):
        if name in seen or hasattr(builtins, name) or name.startswith("__") or name not in space:
            continue
        seen.add(name)
        used = space[name]
        if isinstance(used, types.ModuleType):
            lines.append(f"import {used.__name__} as {name}\n")
        elif _is_literal(used):
            lines.append(f"{name} = {used!r}\n")
        elif isinstance(used, (types.FunctionType, type)) and used.__module__ == value.__module__:
            lines.append(_prelude(used, seen) + source_of(used))
        elif isinstance(used, (types.FunctionType, type)):
            lines.append(f"from {used.__module__} import {used.__qualname__} as {name}\n")
        else:
            raise ValueError(
                f"{value.__name__} uses `{name}`, a {type(used).__name__} defined outside it: the "
                "grader runs your code in a fresh process, where only source and plain values "
                "(numbers, strings) can go. Create it inside (or import it).")
    return "".join(lines)


def _is_literal(value: Any) -> bool:
    try:
        return ast.literal_eval(repr(value)) == value
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return False


def exec_source(source: str, origin: str) -> dict[str, Any]:
    """Run the learner's source (its lines kept for tracebacks); its namespace. A syntax error,
    or an error while the source runs (a failed import, say), is a CourseRefused that names the
    line."""
    namespace: dict[str, Any] = {"__name__": "__submission__", "__builtins__": builtins}
    filename = f"<{origin}>"
    try:
        code = compile(source, filename, "exec")
    except SyntaxError as error:
        raise CourseRefused(f"{origin} has a syntax error at line {error.lineno}: {error.msg}. "
                            "Fix it and run it again.") from None
    except ValueError as error:  # a null byte
        raise CourseRefused(f"{origin} cannot be compiled: {error}.") from None
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    try:
        exec(code, namespace)
    except CourseRefused:
        raise
    except BaseException as error:  # SystemExit included: the file ran, and stopped
        raise CourseRefused(
            f"{origin} could not run: {what(error)}{where(error, origin)}. "
            f"{hint(error)}".strip()) from None
    return namespace
