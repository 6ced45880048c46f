"""Meta-tests that keep the plugin contract honest (after Datasette's ``test_docs.py``).

Every hookspec is documented in ``docs/plugin-hooks.md``, says since which contract
version it exists, and has a ``test_hook_<name>`` test; the public modules list their
names in a sorted literal ``__all__``.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

import hookspecs
import hookspecs._spec as spec_module
from hookspecs import PROJECT_NAME

ROOT = Path(__file__).resolve().parent.parent
HOOK_DOCS = ROOT / "docs" / "plugin-hooks.md"
TESTS = ROOT / "tests"


def _hookspecs() -> dict[str, Callable[..., object]]:
    return {
        name: obj for name, obj in vars(spec_module).items()
        if name.startswith("plugboard_") and inspect.isfunction(obj)
    }


HOOKS = sorted(_hookspecs())


def _doc_sections() -> dict[str, str]:
    """``## heading`` -> the text under it, up to the next ``##`` heading."""
    parts = re.split(r"^## +(.+?) *$", HOOK_DOCS.read_text(encoding="utf-8"), flags=re.M)
    return {parts[i].strip(): parts[i + 1] for i in range(1, len(parts) - 1, 2)}


def _test_sources() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted(TESTS.rglob("*.py")))


def test_the_contract_has_hooks() -> None:
    assert len(HOOKS) >= 10
    for name in HOOKS:  # every plugboard_* function there is a real hookspec
        assert hasattr(_hookspecs()[name], f"{PROJECT_NAME}_spec"), f"{name} lacks @hookspec"


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_is_documented(hook: str) -> None:
    sections = _doc_sections()
    assert hook in sections, f"docs/plugin-hooks.md needs a section headed `## {hook}`"
    assert f"{hook}(" in sections[hook], f"the `## {hook}` section should show its signature"


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_docstring_says_since(hook: str) -> None:
    doc = inspect.getdoc(_hookspecs()[hook]) or ""
    assert "Since" in doc, f"the docstring of {hook} should say `Since <contract version>.`"


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_has_a_test(hook: str) -> None:
    pattern = re.compile(rf"def test_hook_{hook}\b")
    assert pattern.search(_test_sources()), f"write a `test_hook_{hook}` test under tests/"


def test_documented_sections_are_real_hooks() -> None:
    documented = {name for name in _doc_sections() if name.startswith("plugboard_")}
    assert documented <= set(HOOKS), f"documented but not in hookspecs: {documented - set(HOOKS)}"


# -- __all__ of the public modules -----------------------------------------------------------


def _isort_key(name: str) -> tuple[int, str]:
    """ruff's RUF022 order: SCREAMING_SNAKE_CASE, then CamelCase, then the rest."""
    if len(name) > 1 and name.isupper():
        return (0, name)
    return (1 if name[:1].isupper() else 2, name)


def _literal_all(module: ModuleType) -> list[str]:
    """The names of ``__all__ = [...]`` as written in the module's source."""
    assert module.__file__ is not None
    tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        ):
            value = node.value
            assert isinstance(value, ast.List | ast.Tuple), (
                f"{module.__name__}.__all__ must be a literal list (type checkers only read "
                f"literals), not {ast.unparse(value)[:40]}…"
            )
            assert all(isinstance(e, ast.Constant) and isinstance(e.value, str) for e in value.elts)
            return [e.value for e in value.elts]  # type: ignore[attr-defined]
    raise AssertionError(f"{module.__name__} has no `__all__ = [...]`")


@pytest.mark.parametrize("module_name", ["hookspecs", "kernel.api"])
def test_public_all_is_a_sorted_literal(module_name: str) -> None:
    module = importlib.import_module(module_name)
    names = _literal_all(module)
    assert names == sorted(names, key=_isort_key), f"sort {module_name}.__all__ (ruff RUF022)"
    assert len(set(names)) == len(names)
    assert list(module.__all__) == names
    missing = [n for n in names if not hasattr(module, n)]
    assert missing == []


def test_kernel_api_offers_what_plugins_need() -> None:
    import kernel.api

    needed = {
        "Base", "TenantOwned", "db", "utcnow", "tenant_scope", "current_tenant_id",
        "platform_scope", "TenantScopeError", "auth_required", "current_principal",
        "Principal", "problem", "Problem", "audit_describe", "paginate", "enable_tenant_rls",
        "disable_tenant_rls", "public_tenant", "enter_tenant", "plugin_config", "mailer",
    }
    assert needed <= set(kernel.api.__all__)
    assert hookspecs.__all__  # the contract package exports too
