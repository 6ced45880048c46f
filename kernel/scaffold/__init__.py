"""``plugboard new-plugin NAME``: a new plugin project rendered from the template shipped here.

The template (``template/``, Jinja2, files ending in ``.tmpl``) is a complete third-party
plugin using only the stable surface (``kernel.api``, ``hookspecs``, ``plugboard.testing``):
a route, a model and its migration with row-level security, a cron job, an emitted event
and its handler, a config with a secret, tests that run the quality gates, a README.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import jinja2

from hookspecs import CONTRACT_VERSION
from hookspecs._manifest import NAME_RE, RESERVED_NAMES

TEMPLATE = Path(__file__).resolve().parent / "template"
PACKAGE_DIR = "__package__"


class ScaffoldError(ValueError):
    """The name or the target folder does not allow a new plugin project."""


def names_for(name: str) -> dict[str, str]:
    """The names a project for plugin ``name`` uses (package, project, class prefix…)."""
    if not NAME_RE.match(name):
        raise ScaffoldError(f"plugin name {name!r} must match {NAME_RE.pattern} (lower case, digits, _)")
    if name in RESERVED_NAMES:
        raise ScaffoldError(f"plugin name {name!r} is one of the kernel's own URL segments; pick another")
    words = [w for w in re.split(r"_+", name) if w]
    return {
        "name": name,
        "package": f"plugboard_{name}",
        "project": f"plugboard-{name.replace('_', '-')}",
        "title": " ".join(w.capitalize() for w in words),
        "class_prefix": "".join(w.capitalize() for w in words),
        "contract": CONTRACT_VERSION,
        "contract_major": CONTRACT_VERSION.split(".")[0],
        "today": dt.date.today().isoformat(),
    }


def render(name: str, target: Path) -> list[Path]:
    """Write the project for plugin ``name`` into ``target`` (created; must be empty or new)."""
    values = names_for(name)
    if target.exists() and any(target.iterdir()):
        raise ScaffoldError(f"{target} exists and is not empty")
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATE)), keep_trailing_newline=True,
                             undefined=jinja2.StrictUndefined, autoescape=False)  # noqa: S701 - code, not HTML
    written: list[Path] = []
    for source in sorted(TEMPLATE.rglob("*.tmpl")):
        relative = source.relative_to(TEMPLATE).as_posix()
        out = target / relative.removesuffix(".tmpl").replace(PACKAGE_DIR, values["package"])
        out = out.with_name(out.name.replace("__name__", name))
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(env.get_template(relative).render(**values), encoding="utf-8")
        written.append(out)
    return written
