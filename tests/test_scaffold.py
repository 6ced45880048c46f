"""``plugboard new-plugin``: the project it writes installs and its tests pass at once.

The project is really installed (pip builds it and writes its entry point), into a folder
of its own on the subprocess's ``PYTHONPATH`` rather than into this environment, so the
tests running beside this one never see an extra plugin. Its tests (fuzzing and the
isolation sweep included) run in a subprocess, on PostgreSQL when the suite has it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from kernel.cli import main as cli_main
from kernel.scaffold import ScaffoldError, render

STABLE = ("kernel.api", "hookspecs", "plugboard.testing")


def test_the_scaffold_installs_and_its_tests_pass(tmp_path: Path) -> None:
    project = tmp_path / "plugboard-todo-list"
    result = CliRunner().invoke(cli_main, ["new-plugin", "todo_list", "--dir", str(project)])
    assert result.exit_code == 0, result.output
    assert "pip install -e ." in result.output
    for path in project.rglob("*.py"):  # the template uses the stable surface only
        for line in path.read_text().splitlines():
            if line.startswith(("from kernel", "import kernel", "from plugboard.", "import plugboard.")):
                assert line.split()[1].startswith(STABLE), f"{path.name}: {line}"
    site = tmp_path / "site"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps",
         "--target", str(site), str(project)],
        capture_output=True, text=True, timeout=300, check=False)
    assert install.returncode == 0, install.stdout + install.stderr
    entry_points = (next(site.glob("plugboard_todo_list-*.dist-info")) / "entry_points.txt").read_text()
    assert 'todo_list = plugboard_todo_list.plugin' in entry_points
    env = {**os.environ, "PYTHONPATH": str(site)}
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist"],
                         cwd=project, env=env, capture_output=True, text=True, timeout=900, check=False)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-3000:]
    summary = run.stdout.strip().splitlines()[-1]
    assert "12 passed" in summary and "skipped" not in summary, summary
    assert "failed" not in summary


@pytest.mark.parametrize(("name", "error"), [("Bad-Name", "must match"), ("admin", "kernel's own")])
def test_bad_names_are_refused(tmp_path: Path, name: str, error: str) -> None:
    with pytest.raises(ScaffoldError, match=error):
        render(name, tmp_path / "x")
    result = CliRunner().invoke(cli_main, ["new-plugin", name, "--dir", str(tmp_path / "y")])
    assert result.exit_code != 0 and error in result.output


def test_a_folder_that_is_not_empty_is_left_alone(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    with pytest.raises(ScaffoldError, match="not empty"):
        render("notes", tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]
