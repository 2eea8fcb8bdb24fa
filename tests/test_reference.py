"""The API reference describes every public parameter, so no row of its tables is left blank.

For every callable exported by ``sora_async`` and its documented public subpackages (their
``__all__``): each parameter of its signature (not ``self``, ``*args`` or ``**kwargs``) has a
description in its Google-style docstring, as ``Args:`` (or ``Attributes:``) on the function or
method, or for a class on the class (or its ``__init__``). A field of an attrs class may instead have
its own docstring (the string under the field), which the reference shows in the same table
(``griffe_fieldz``). Public methods defined on a class count too; properties take no parameters.

Signatures come from ``inspect`` (what Python really accepts, attrs' generated ``__init__`` too);
docstrings are parsed by griffe, the same parser the site uses.
"""

from __future__ import annotations

import doctest
import enum
import importlib
import importlib.util
import inspect
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

griffe = pytest.importorskip("griffe")

PACKAGES = ("sora_async", "sora_async.limits", "sora_async.batch", "sora_async.loadtest", "sora_async.mock")
"""The public namespaces the reference documents (docs/reference/api.md)."""

DESCRIBED = ("parameters", "other parameters", "attributes")
"""Docstring sections whose entries describe a parameter."""

# Objects defined in files that others are editing right now. Each entry is expected to fail (strict:
# an entry that starts passing fails the run, so remove it once its text is pasted in).
PENDING: dict[str, str] = {}


def parameters(func: Callable[..., Any]) -> list[str]:
    """The named parameters a caller can pass (``self``/``cls``, ``*args`` and ``**kwargs`` left out)."""
    variadic = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    signature = inspect.signature(func)
    return [p.name for p in signature.parameters.values() if p.kind not in variadic and p.name != "self"]


def has_own_constructor(cls: type) -> bool:
    """A class whose construction the reference documents: not an enum, a protocol, or an exception
    that keeps ``BaseException``'s ``*args``. A named tuple's fields are its constructor's parameters."""
    if issubclass(cls, enum.Enum) or getattr(cls, "_is_protocol", False):
        return False
    is_named_tuple = issubclass(cls, tuple) and hasattr(cls, "_fields")
    return "__init__" in vars(cls) or hasattr(cls, "__attrs_attrs__") or is_named_tuple


def public_methods(cls: type) -> Iterator[tuple[str, Callable[..., Any]]]:
    """Public functions, class methods and static methods of the class, and of its own package's bases
    (the reference shows ``SoraClient``'s inherited members as its own)."""
    own = [c for c in cls.__mro__ if c.__module__.startswith("sora_async")]
    members: dict[str, Any] = {}
    for klass in reversed(own):
        members.update(vars(klass))
    for name, value in members.items():
        if name.startswith("_"):
            continue
        if isinstance(value, (classmethod, staticmethod)):
            yield name, getattr(cls, name)  # bound: ``cls`` is not the caller's to pass
        elif inspect.isfunction(value):
            yield name, value


def callables() -> Iterator[tuple[str, Callable[..., Any], str]]:
    """``(public path, callable, path of its griffe object)`` for every public callable, once each."""
    seen: set[int] = set()
    for package in PACKAGES:
        module = importlib.import_module(package)
        for name in module.__all__:
            obj = getattr(module, name)
            if not callable(obj) or id(obj) in seen:
                continue
            seen.add(id(obj))
            path = f"{package}.{name}"
            if not inspect.isclass(obj):
                yield path, obj, path
                continue
            if has_own_constructor(obj):
                yield path, obj, path
            for method_name, method in public_methods(obj):
                yield f"{path}.{method_name}", method, f"{path}.{method_name}"


CALLABLES = list(callables())


ROOT = Path(__file__).resolve().parent.parent
FIELDS_EXTENSION = ROOT / "docs" / "griffe_fields.py"
SITE_OPTIONS = {"warn_unknown_params": False, "warn_missing_types": False}
"""mkdocs.yml's ``docstring_options`` (the second direction is checked here instead)."""


@pytest.fixture(scope="module")
def loaded() -> Any:
    """The package as the site's reference reads it: griffe, Google docstrings, mkdocs.yml's extensions
    (so an attrs field's row is described exactly when the reference shows a description)."""
    pytest.importorskip("griffe_fieldz")
    extensions = griffe.load_extensions(
        f"{ROOT / 'docs' / 'griffe_doctest.py'}:DoctestFences",
        f"{FIELDS_EXTENSION}:AttributesDescribeFields",
        {"griffe_fieldz": {"remove_fields_from_members": True}},
    )
    return griffe.load(
        "sora_async", extensions=extensions, docstring_parser="google", docstring_options=SITE_OPTIONS
    )


def sections(obj: Any, *kinds: str) -> dict[str, str]:
    """``name -> description`` of the entries of the object's docstring sections of these kinds."""
    if obj.docstring is None:
        return {}
    return {
        item.name.lstrip("*"): item.description.strip()
        for section in obj.docstring.parsed
        if section.kind.value in kinds
        for item in section.value
    }


def docstrings(obj: Any) -> list[Any]:
    """Where the reference takes a callable's descriptions from: its docstring, and for a class its
    ``__init__``'s too (``merge_init_into_class``)."""
    found = [obj]
    if obj.is_class and "__init__" in obj.members:
        found.append(obj.members["__init__"])
    return found


def documented_parameters(obj: Any) -> set[str]:
    """Names the reference describes for this function, method or class: an ``Args:`` or
    ``Attributes:`` entry with text, or (a class's member) a docstring of its own."""
    names = {n for o in docstrings(obj) for n, text in sections(o, *DESCRIBED).items() if text}
    if obj.is_class:
        names |= {
            member.name
            for member in obj.members.values()
            if not member.is_alias and member.is_attribute and member.docstring and member.docstring.value
        }
    return names


def case(path: str, func: Callable[..., Any], griffe_path: str) -> Any:
    marks = [pytest.mark.xfail(reason=f"pending: {PENDING[path]}")] if path in PENDING else []
    return pytest.param(func, griffe_path, id=path, marks=marks)


@pytest.mark.parametrize(("func", "griffe_path"), [case(*c) for c in CALLABLES])
def test_every_parameter_is_described(func: Callable[..., Any], griffe_path: str, loaded: Any) -> None:
    """Each parameter of the public callable has a description in its docstring."""
    obj = loaded[griffe_path.removeprefix("sora_async.")].final_target
    missing = [name for name in parameters(func) if name not in documented_parameters(obj)]
    assert missing == [], f"{griffe_path}: no description for {missing} (add them under Args:)"


@pytest.mark.parametrize(("func", "griffe_path"), [pytest.param(f, g, id=p) for p, f, g in CALLABLES])
def test_every_described_parameter_exists(func: Callable[..., Any], griffe_path: str, loaded: Any) -> None:
    """No ``Args:`` entry names a parameter the callable does not take (a renamed or removed one)."""
    obj = loaded[griffe_path.removeprefix("sora_async.")].final_target
    accepted = set(inspect.signature(func).parameters) - {"self"}
    listed = {name for o in docstrings(obj) for name in sections(o, "parameters", "other parameters")}
    assert listed - accepted == set(), f"{griffe_path}: Args: names what it does not take"


def test_the_pending_list_names_real_callables() -> None:
    """Every entry of PENDING is a public callable this test checks (a typo would hide nothing)."""
    assert set(PENDING) <= {path for path, _, _ in CALLABLES}


def test_the_check_sees_the_whole_api() -> None:
    """The walk finds the client's methods, attrs classes and functions (a broken walk passes vacuously)."""
    paths = {path for path, _, _ in CALLABLES}
    expected = {
        "sora_async.SoraClient",
        "sora_async.SoraClient.create_video",
        "sora_async.VideoTask",
        "sora_async.get_dialect",
        "sora_async.batch.run_batch",
        "sora_async.mock.MockRelay",
        "sora_async.loadtest.run_load_test",
    }
    assert expected <= paths
    assert len(paths) >= 80


def test_a_missing_description_is_found() -> None:
    """The check itself: a parameter left out of ``Args:``, or listed without text, is not described."""
    func = griffe.Function("f", docstring=griffe.Docstring("Do it.\n\nArgs:\n    a: The a.\n    b:\n"))
    func.docstring.parser = griffe.Parser.google
    assert documented_parameters(func) == {"a"}


def test_an_attributes_entry_describes_an_attrs_field() -> None:
    """docs/griffe_fields.py: an attrs class's ``Attributes:`` entry reaches its field's row (which
    griffe_fieldz would leave blank), and the extension's own example holds."""
    spec = importlib.util.spec_from_file_location("sora_async_docs_griffe_fields", FIELDS_EXTENSION)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    results = doctest.testmod(module)
    assert (results.failed, results.attempted > 0) == (0, True)
    cls = griffe.Class("Point", docstring=griffe.Docstring("A point.\n\nAttributes:\n    x: Across.\n"))
    cls.set_member("x", griffe.Attribute("x"))
    module.AttributesDescribeFields().on_class_members(cls=cls)
    assert cls.members["x"].docstring.value == "Across."
