"""The ``plugboard`` command line: serve, db, create-admin, demo (and plugin commands)."""

from __future__ import annotations

import secrets
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext

from kernel.services import kernel_services


def _create_app(*_args: Any) -> Flask:
    from kernel.app import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, add_default_commands=False,
             add_version_option=False, load_dotenv=False)
def main() -> None:
    """Plugboard: a multi-tenant platform kernel."""


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@with_appcontext
def serve(host: str, port: int) -> None:
    """Serve the API with the development server (use gunicorn in production)."""
    from werkzeug.serving import run_simple

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    click.echo(f"Plugboard on http://{host}:{port}  (docs: http://{host}:{port}/api/docs)")
    # Flask ignores app.run() inside its own CLI; serve with werkzeug directly.
    run_simple(host, port, app, threaded=True, use_reloader=False)


@click.group("db")
def db_group() -> None:
    """Database migrations (kernel and every plugin branch)."""


@db_group.command("upgrade")
@click.argument("revision", default="heads")
@with_appcontext
def db_upgrade(revision: str) -> None:
    """Apply migrations up to REVISION (default: every head)."""
    from kernel.data import migrate

    migrate.upgrade(current_app._get_current_object(), revision)  # type: ignore[attr-defined]
    click.echo(f"database upgraded to {revision}")


@db_group.command("downgrade")
@click.argument("revision")
@with_appcontext
def db_downgrade(revision: str) -> None:
    """Revert migrations down to REVISION (``base`` empties the database)."""
    from kernel.data import migrate

    migrate.downgrade(current_app._get_current_object(), revision)  # type: ignore[attr-defined]
    click.echo(f"database downgraded to {revision}")


@db_group.command("check")
@with_appcontext
def db_check() -> None:
    """Fail when the models and the migrations disagree."""
    from kernel.data import migrate

    migrate.check(current_app._get_current_object())  # type: ignore[attr-defined]
    click.echo("models and migrations agree")


@click.command("create-admin")
@click.option("--email", required=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--name", default=None)
@with_appcontext
def create_admin(email: str, password: str, name: str | None) -> None:
    """Create a platform admin, or promote an existing user."""
    from kernel.data.session import db
    from kernel.identity.accounts import promote_admin

    if len(password) < 10:
        raise click.BadParameter("use at least 10 characters", param_hint="--password")
    user = promote_admin(email, password, name)
    db.session.commit()
    click.echo(f"platform admin: {user.email}")


@click.command("demo")
@click.option("--email", default="demo@plugboard.local", show_default=True)
@click.option("--password", default=None, help="default: a random one, printed")
@with_appcontext
def demo(email: str, password: str | None) -> None:
    """Seed a demo tenant (idempotent) and print how to log in."""
    from kernel.tenancy.demo import seed_demo

    password = password or secrets.token_urlsafe(9)
    result = seed_demo(email, password)
    base = kernel_services().settings.public_url_or_default
    click.echo(result.describe(base))


@click.group("plugins")
def plugins_group() -> None:
    """Installed plugins."""


@plugins_group.command("list")
@with_appcontext
def plugins_list() -> None:
    """Installed plugins: name, version, source, load status (and the error)."""
    registry = kernel_services().registry
    records = sorted(registry.records.values(), key=lambda r: r.name)
    if not records:
        click.echo("no plugins installed")
    for record in records:
        line = f"{record.name:<20} {record.version or '-':<10} {record.source:<12} {record.status}"
        click.echo(line + (f"  ({record.error})" if record.error else ""))


@click.command("worker")
@click.argument("queues", nargs=-1)
@click.option("--burst", is_flag=True, help="stop when the queues are empty")
@with_appcontext
def worker(queues: tuple[str, ...], burst: bool) -> None:
    """Run an rq worker for QUEUES (default: every queue jobs are declared on)."""
    from kernel.runtime.jobs import make_worker

    try:
        rq_worker = make_worker(current_app._get_current_object(), list(queues) or None)  # type: ignore[attr-defined]
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from exc
    rq_worker.work(burst=burst, with_scheduler=True)


@click.command("cron")
@with_appcontext
def cron() -> None:
    """Run the cron scheduler (rq's), which enqueues every cron JobSpec on time."""
    from kernel.runtime.jobs import make_cron_scheduler

    try:
        scheduler = make_cron_scheduler(current_app._get_current_object())  # type: ignore[attr-defined]
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from exc
    scheduler.start()


@click.group("jobs")
def jobs_group() -> None:
    """Background jobs."""


@jobs_group.command("run")
@click.argument("name")
@click.option("--tenant", default=None, help="tenant id, for per-tenant jobs")
@with_appcontext
def jobs_run(name: str, tenant: str | None) -> None:
    """Enqueue job NAME now (inline without Redis); ``kernel.cron`` takes --job via NAME=job."""
    import uuid

    runner = kernel_services().jobs
    runner.submit(name, uuid.UUID(tenant) if tenant else None, None, {})
    click.echo(f"{name}: {'ran inline' if runner.inline else 'enqueued'}")


@click.command("new-plugin")
@click.argument("name")
@click.option("--dir", "directory", type=click.Path(file_okay=False), default=None,
              help="where to create the project (default: ./plugboard-NAME)")
def new_plugin(name: str, directory: str | None) -> None:
    """Create a plugin project NAME: package, entry point, route, model, migration with
    row-level security, job, event and handler, config with a secret, tests, README."""
    from pathlib import Path

    from kernel.scaffold import ScaffoldError, names_for, render

    try:
        target = Path(directory or names_for(name)["project"])
        written = render(name, target)
    except ScaffoldError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"created {target} ({len(written)} files). Next:\n"
               f"  cd {target}\n  pip install -e .\n  pytest")


# The commands hang off the `plugboard` group, not off app.cli: the app factory does not
# know the CLI (the CLI builds the app through FlaskGroup instead).
for _command in (serve, db_group, create_admin, demo, plugins_group, worker, cron, jobs_group,
                 new_plugin):
    main.add_command(_command)
