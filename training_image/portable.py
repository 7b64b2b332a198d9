"""`model.pkl` that loads anywhere: the pickle carries the code of its own classes.

The saved pipeline holds a few classes of this package (the `prepare` step, the missing-value
flags, the float32 cast, the label decoder, the linear learner). Pickle stores classes by
reference, so a plain pickle of it needs `training_image` importable. `dumps` wraps that pickle
in a small loader instead: `pickle.load(f)` runs the loader, which, when `training_image` is not
importable, installs the shipped modules (the exact source files the model was trained with,
and the ones they import) under their own names, then unpickles the model. With the package
importable (this project, the training container) the real modules are used. Either way the
result is the same sklearn `Pipeline`; the only libraries it needs are the pinned ML stack
(numpy, pandas, scikit-learn, LightGBM, XGBoost).

As with any pickle, load only files you trust: loading runs code.
"""

from __future__ import annotations

import ast
import importlib
import io
import pickle
import types
from pathlib import Path
from typing import Any

PACKAGE = "training_image"

# Runs inside `pickle.load`, in a namespace holding SOURCES (module -> source, in import order)
# and BLOB (the plain pickle). Standard library only.
LOADER = """
def load():
    import importlib.util
    import pickle
    import sys
    import types

    try:
        present = importlib.util.find_spec(PACKAGE) is not None
    except (ImportError, ValueError):
        present = False
    if not present and PACKAGE not in sys.modules:
        package = types.ModuleType(PACKAGE, "Code shipped inside an AutoML Lite model.pkl")
        package.__path__ = []
        package.__automl_lite_shipped__ = True
        sys.modules[PACKAGE] = package
        for name, source in SOURCES.items():
            module = types.ModuleType(name)
            module.__package__ = PACKAGE
            sys.modules[name] = module
            code = compile(source, "<model.pkl>/" + name.replace(".", "/") + ".py", "exec")
            exec(code, module.__dict__)
            setattr(package, name.rpartition(".")[2], module)
    return pickle.loads(BLOB)
"""


class _Shipped:
    """Pickles as a call of the loader (`builtins.eval`), with the sources and the model."""

    def __init__(self, sources: dict[str, str], blob: bytes) -> None:
        self.sources = sources
        self.blob = blob

    def __reduce__(self) -> tuple[Any, tuple[str, dict[str, Any]]]:
        namespace = {
            "PACKAGE": PACKAGE,
            "SOURCES": self.sources,
            "BLOB": self.blob,
            "LOADER": LOADER,
        }
        return eval, ("exec(LOADER) or load()", namespace)


class _Recorder(pickle.Pickler):
    """A pickler that notes the module of every object, class and function it writes."""

    def __init__(self, file: io.BytesIO) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.modules: set[str] = set()

    def persistent_id(self, obj: Any) -> None:
        self.modules.add(type(obj).__module__)
        if isinstance(obj, type | types.FunctionType):
            self.modules.add(obj.__module__)
        return None


def pickled(model: Any) -> tuple[bytes, set[str]]:
    """A plain pickle of `model` and the modules of this package it references."""
    buffer = io.BytesIO()
    recorder = _Recorder(buffer)
    recorder.dump(model)
    ours = {m for m in recorder.modules if m == PACKAGE or m.startswith(PACKAGE + ".")}
    return buffer.getvalue(), ours


def _top_level_imports(source: str) -> list[str]:
    """This package's modules a module imports when it is executed (not inside functions or
    `if TYPE_CHECKING:` blocks)."""
    names: list[str] = []
    for node in ast.parse(source).body:
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == PACKAGE:
                names.extend(f"{PACKAGE}.{alias.name}" for alias in node.names)
            elif node.module.startswith(PACKAGE + "."):
                names.append(node.module)
        elif isinstance(node, ast.Import):
            names.extend(a.name for a in node.names if a.name.startswith(PACKAGE + "."))
    return names


def _source(module: str) -> str:
    path = Path(importlib.import_module(module).__file__ or "")
    return path.read_text(encoding="utf-8")


def shipped_sources(modules: set[str]) -> dict[str, str]:
    """Sources of `modules` and of this package's modules they import, dependencies first."""
    ordered: dict[str, str] = {}

    def visit(module: str, seen: tuple[str, ...]) -> None:
        if module in ordered or module in seen or module == PACKAGE:
            return
        source = _source(module)
        for dependency in _top_level_imports(source):
            visit(dependency, (*seen, module))
        ordered[module] = source

    for module in sorted(modules):
        visit(module, ())
    return ordered


def dumps(model: Any) -> bytes:
    """`model` pickled with the code of this package's classes it uses."""
    blob, modules = pickled(model)
    if not modules:
        return blob  # only library classes: a plain pickle already loads anywhere
    return pickle.dumps(_Shipped(shipped_sources(modules), blob), protocol=pickle.HIGHEST_PROTOCOL)
