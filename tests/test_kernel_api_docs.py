"""Every name of the stable surface is documented in docs/kernel-api.md.

``kernel.api.__all__``, ``hookspecs.__all__`` and every hookspec each have a section headed
``### `name` `` that shows how to call it and says since which contract version it exists
(no later than the kernel's own), matching the ``versionadded`` of its docstring when it has one.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest
from packaging.version import Version

import hookspecs
import hookspecs._spec as spec_module
import kernel.api

DOC = Path(__file__).resolve().parent.parent / "docs" / "kernel-api.md"
HOOKS = sorted(n for n, o in vars(spec_module).items()
               if n.startswith("plugboard_") and inspect.isfunction(o))
NAMES = [("kernel.api", n) for n in kernel.api.__all__] + [("hookspecs", n) for n in hookspecs.__all__] + [
    ("hook", n) for n in HOOKS]


def _sections() -> dict[str, str]:
    parts = re.split(r"^### +`([^`]+)` *$", DOC.read_text(encoding="utf-8"), flags=re.M)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts) - 1, 2)}


def test_the_doc_covers_the_whole_surface() -> None:
    assert len(NAMES) > 80
    documented = set(_sections())
    missing = [f"{where}.{name}" for where, name in NAMES if name not in documented]
    assert not missing, f"docs/kernel-api.md lacks a `### \\`name\\`` section for {missing}"
    exported = {name for _, name in NAMES}
    stale = documented - exported
    assert not stale, f"docs/kernel-api.md documents names that are not exported: {sorted(stale)}"


@pytest.mark.parametrize(("where", "name"), NAMES, ids=[f"{w}.{n}" for w, n in NAMES])
def test_each_name_says_how_to_call_it_and_since_when(where: str, name: str) -> None:
    section = _sections()[name]
    found = re.search(r"^Since (\d+\.\d+)\.$", section, flags=re.M)
    assert found, f"the `{name}` section must end with 'Since <version>.'"
    since = found.group(1)
    assert Version(since) <= Version(hookspecs.CONTRACT_VERSION)
    module = {"hook": spec_module, "kernel.api": kernel.api, "hookspecs": hookspecs}[where]
    obj = getattr(module, name)
    if where == "hook":
        assert f"def {name}(" in section
    elif callable(obj):
        assert f"{name}(" in section, f"the `{name}` section should show its signature"
    versions = re.findall(r"versionadded:: (\d+\.\d+)", inspect.getdoc(obj) or "")
    if versions and (inspect.isfunction(obj) or where == "hook"):
        assert versions[0] == since, f"{name}: docstring says {versions[0]}, docs/kernel-api.md {since}"
    if where != "hook" and "problem" in section.lower() and callable(obj):
        # whether a helper raises or returns its problem is the one thing a reader must not guess
        assert "raise" in section.lower() or "answer" in section.lower() or "returns" in section.lower()
