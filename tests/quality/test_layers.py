"""The layer contracts in pyproject.toml hold, and the checker would catch a breach.

``lint-imports`` (import-linter) reads ``[tool.importlinter]``: the kernel's layers
(web -> registry/identity/tenancy/runtime -> data), routes on top of web, the kernel never
importing plugins, plugins importing only ``kernel.api`` and ``hookspecs``. The breach
tests run it on a copy of the source tree with one forbidden import added, so the real
tree is never touched.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import plugboard_hello
import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
PACKAGES = {
    "kernel": ROOT / "kernel",
    "hookspecs": ROOT / "hookspecs",
    "plugins": ROOT / "plugins",
    "plugboard_hello": Path(plugboard_hello.__file__).parent,
}


def lint_imports(cwd: Path, pythonpath: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(cwd / "pyproject.toml"), "--no-cache"],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False,
    )


def test_the_layer_contracts_hold() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.fixture
def tree_copy(tmp_path: Path) -> Path:
    """The packages the contracts name and pyproject.toml, copied under ``tmp_path``."""
    for name, source in PACKAGES.items():
        shutil.copytree(source, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_copy_passes_as_it_is(tree_copy: Path) -> None:
    result = lint_imports(tree_copy, pythonpath=tree_copy)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(("module", "forbidden", "contract"), [
    ("kernel/data/models.py", "import kernel.web.routes.admin", "kernel: cli -> app"),
    ("kernel/identity/rbac.py", "from kernel.web import errors", "kernel: cli -> app"),
    ("kernel/data/rls.py", "from kernel.registry import manager", "kernel: cli -> app"),
    ("kernel/web/cors.py", "from kernel.web.routes import public", "web: nothing imports"),
    ("kernel/api.py", "import kernel.web.routes.tenant", "kernel.api and the CLI"),
    ("kernel/runtime/broadcast.py", "import plugins.pages", "the kernel never imports plugins"),
    ("plugins/pages/services.py", "from kernel.data.session import db", "plugins and examples"),
    ("plugboard_hello/models.py", "import kernel.identity.auth", "plugins and examples"),
])
def test_a_forbidden_import_breaks_its_contract(tree_copy: Path, module: str, forbidden: str,
                                               contract: str) -> None:
    target = tree_copy / module
    target.write_text(target.read_text() + f"\n{forbidden}  # the forbidden import\n")
    result = lint_imports(tree_copy, pythonpath=tree_copy)
    assert result.returncode != 0, result.stdout
    broken = result.stdout.split("Broken contracts")[-1]
    assert contract in broken, result.stdout
