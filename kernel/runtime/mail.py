"""Outgoing mail for the kernel and plugins: Jinja2 templates, SMTP or the log.

``PLUGBOARD_SMTP_URL`` picks the transport: ``smtp://user:pass@host:port`` (STARTTLS
when the server offers it), ``smtps://…`` (implicit TLS). Without it, development mail
is written to the log, which is where a newcomer looks for a reset link.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
import uuid
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any
from urllib.parse import unquote, urlsplit

from jinja2 import ChoiceLoader, Environment, PackageLoader, StrictUndefined, meta, select_autoescape

from kernel.config import Settings

log = logging.getLogger("plugboard.mail")

# The kernel's mails that go to a tenant's customers; tenants may override these.
TENANT_KERNEL_TEMPLATES = ("customer_password_reset",)


@dataclass(frozen=True)
class SmtpTarget:
    host: str
    port: int
    username: str | None
    password: str | None
    implicit_tls: bool


def parse_smtp_url(url: str) -> SmtpTarget:
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ValueError(
            f"PLUGBOARD_SMTP_URL must look like smtp://user:pass@host:587 or smtps://…, got "
            f"scheme {parts.scheme!r}."
        )
    implicit = parts.scheme == "smtps"
    return SmtpTarget(
        host=parts.hostname,
        port=parts.port or (465 if implicit else 25),
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        implicit_tls=implicit,
    )


class Mailer:
    """Renders ``<template>.subject.txt`` / ``.txt`` / optional ``.html`` and sends them."""

    def __init__(self, settings: Settings) -> None:
        self._target = parse_smtp_url(settings.smtp_url) if settings.smtp_url else None
        self._from = settings.mail_from
        self._public_url = settings.public_url_or_default
        # Mail bodies carry reset links; only development may print them.
        self._log_bodies = not settings.is_production
        self._loaders = [PackageLoader("kernel.runtime", "templates/mail")]
        self._env = self._build_env()
        # Templates a tenant may override: the customer-facing ones (kernel's and plugins').
        self._tenant_templates: set[str] = set(TENANT_KERNEL_TEMPLATES)

    def _build_env(self) -> Environment:
        return Environment(
            loader=ChoiceLoader(list(self._loaders)),
            autoescape=select_autoescape(["html"]),
            undefined=StrictUndefined,
            keep_trailing_newline=True,
        )

    def add_templates(self, package: str, folder: str = "templates/mail") -> None:
        """Let a plugin ship its own mail templates (looked up after the kernel's).

        Tenants may override each of them (``/api/v1/tenant/mail-templates/<name>``).
        """
        loader = PackageLoader(package, folder)
        self._loaders.append(loader)
        self._env = self._build_env()
        self._tenant_templates.update(
            n.removesuffix(".subject.txt") for n in loader.list_templates() if n.endswith(".subject.txt"))

    # -- tenant overrides ------------------------------------------------------------------

    def tenant_templates(self) -> list[str]:
        """The names of the templates a tenant may override, sorted."""
        return sorted(self._tenant_templates)

    def default_parts(self, template: str) -> dict[str, str | None]:
        """The shipped sources of a template: subject, text and (optional) html."""
        names = {"subject": f"{template}.subject.txt", "text": f"{template}.txt",
                 "html": f"{template}.html"}
        known = set(self._env.list_templates())
        loader = self._env.loader
        assert loader is not None
        return {part: loader.get_source(self._env, name)[0] if name in known else None
                for part, name in names.items()}

    def variables(self, template: str) -> frozenset[str]:
        """The variables a template's mail is rendered with (read off the shipped template)."""
        found: set[str] = set()
        for source in self.default_parts(template).values():
            if source is not None:
                found |= meta.find_undeclared_variables(self._env.parse(source))
        return frozenset(found)

    def _override(self, template: str, tenant_id: uuid.UUID | None) -> Any:
        if tenant_id is None or template not in self._tenant_templates:
            return None
        from kernel.runtime import mail_templates
        from kernel.tenancy.scope import tenant_scope

        with tenant_scope(tenant_id):
            return mail_templates.find(tenant_id, template)

    def _render_override(self, row: Any, context: dict[str, Any]) -> tuple[str, str, str | None]:
        from kernel.runtime.mail_templates import sandbox

        subject = sandbox().from_string(row.subject).render(context)
        text = sandbox().from_string(row.text).render(context)
        html = sandbox(html=True).from_string(row.html).render(context) if row.html else None
        return subject, text, html

    def render(self, template: str, tenant_id: uuid.UUID | None = None, **context: Any) -> EmailMessage:
        """The mail of ``template``: the tenant's override when it has one, else the default."""
        context.setdefault("public_url", self._public_url)
        parts = self._parts(template, tenant_id, context)
        msg = EmailMessage()
        # User-chosen names (a tenant's) reach the subject; a line break there is an error.
        msg["Subject"] = " ".join(parts[0].split())
        msg["From"] = self._from
        msg["Message-ID"] = make_msgid(domain="plugboard")
        msg.set_content(parts[1])
        if parts[2] is not None:
            msg.add_alternative(parts[2], subtype="html")
        return msg

    def _parts(self, template: str, tenant_id: uuid.UUID | None,
               context: dict[str, Any]) -> tuple[str, str, str | None]:
        row = self._override(template, tenant_id)
        if row is not None:
            try:
                return self._render_override(row, context)
            except Exception:  # checked when saved; a mail must still go out if it fails
                log.exception("tenant mail template failed; sending the default",
                              extra={"template": template, "tenant_id": str(tenant_id)})
        subject = self._env.get_template(f"{template}.subject.txt").render(context)
        text = self._env.get_template(f"{template}.txt").render(context)
        html_name = f"{template}.html"
        html = (self._env.get_template(html_name).render(context)
                if html_name in self._env.list_templates() else None)
        return subject, text, html

    def send(self, to: str, template: str, tenant_id: uuid.UUID | None = None,
             **context: Any) -> EmailMessage:
        """Render and send ``template`` to ``to``.

        The tenant whose override applies is ``tenant_id``, else the tenant in scope.
        """
        if tenant_id is None:
            from kernel.tenancy.scope import current_scope

            scope = current_scope()
            tenant_id = None if scope is None or scope.is_platform else scope.tenant_id
        msg = self.render(template, tenant_id, **context)
        msg["To"] = to
        if self._target is None:
            extra = {"to": to, "subject": msg["Subject"]}
            if self._log_bodies:
                extra["mail_body"] = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
            log.warning("mail not sent: PLUGBOARD_SMTP_URL is not set", extra=extra)
            return msg
        self._deliver(msg)
        return msg

    def _deliver(self, msg: EmailMessage) -> None:
        target = self._target
        assert target is not None
        context = ssl.create_default_context()
        smtp_cls = smtplib.SMTP_SSL if target.implicit_tls else smtplib.SMTP
        kwargs: dict[str, Any] = {"timeout": 10}
        if target.implicit_tls:
            kwargs["context"] = context
        with smtp_cls(target.host, target.port, **kwargs) as smtp:
            if not target.implicit_tls:
                smtp.ehlo()
                if smtp.has_extn("starttls"):
                    smtp.starttls(context=context)
                    smtp.ehlo()
            if target.username:
                smtp.login(target.username, target.password or "")
            smtp.send_message(msg)
