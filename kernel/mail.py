"""Outgoing mail for the kernel and plugins: Jinja2 templates, SMTP or the log.

``PLUGBOARD_SMTP_URL`` picks the transport: ``smtp://user:pass@host:port`` (STARTTLS
when the server offers it), ``smtps://…`` (implicit TLS). Without it, development mail
is written to the log, which is where a newcomer looks for a reset link.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any
from urllib.parse import unquote, urlsplit

from jinja2 import ChoiceLoader, Environment, PackageLoader, StrictUndefined, select_autoescape

from kernel.config import Settings

log = logging.getLogger("plugboard.mail")


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
        self._loaders = [PackageLoader("kernel", "templates/mail")]
        self._env = self._build_env()

    def _build_env(self) -> Environment:
        return Environment(
            loader=ChoiceLoader(list(self._loaders)),
            autoescape=select_autoescape(["html"]),
            undefined=StrictUndefined,
            keep_trailing_newline=True,
        )

    def add_templates(self, package: str, folder: str = "templates/mail") -> None:
        """Let a plugin ship its own mail templates (looked up after the kernel's)."""
        self._loaders.append(PackageLoader(package, folder))
        self._env = self._build_env()

    def render(self, template: str, **context: Any) -> EmailMessage:
        context.setdefault("public_url", self._public_url)
        msg = EmailMessage()
        subject = self._env.get_template(f"{template}.subject.txt").render(context)
        # User-chosen names (a tenant's) reach the subject; a line break there is an error.
        msg["Subject"] = " ".join(subject.split())
        msg["From"] = self._from
        msg["Message-ID"] = make_msgid(domain="plugboard")
        msg.set_content(self._env.get_template(f"{template}.txt").render(context))
        html_name = f"{template}.html"
        if html_name in self._env.list_templates():
            msg.add_alternative(self._env.get_template(html_name).render(context), subtype="html")
        return msg

    def send(self, to: str, template: str, **context: Any) -> EmailMessage:
        msg = self.render(template, **context)
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
