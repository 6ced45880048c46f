"""A tenant's own versions of the mail its customers receive (contract 1.1).

Each mail template a tenant may override (the kernel's customer mails and every template
a plugin ships) can be replaced per tenant by a subject, a text body and optionally an HTML
body, written in Jinja2 and rendered in Jinja2's sandbox: a tenant's template can use the
mail's variables and nothing else (no attribute access to internals, no imports, no file
reads). A template that does not compile, or that uses a variable the mail does not have,
is refused when saved (422, naming the line), so a mail never fails at send time because
of an override; should one fail anyway, the default is sent instead and the error logged.

Staff mails of the platform (password reset of staff accounts, invitations, e-mail checks)
are the platform's and cannot be overridden by a tenant.

.. versionadded:: 1.1
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

import sqlalchemy as sa
from jinja2 import StrictUndefined, TemplateSyntaxError, meta
from jinja2.sandbox import ImmutableSandboxedEnvironment
from sqlalchemy.orm import Mapped, mapped_column

from kernel.data.base import Base, TenantOwned, utcnow
from kernel.data.session import db

MAX_SUBJECT = 300
MAX_TEXT = 20_000
MAX_HTML = 100_000
ALWAYS_AVAILABLE = frozenset({"public_url"})


class MailTemplateOverride(TenantOwned, Base):
    __tablename__ = "mail_template_overrides"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "name"),)

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(sa.String(100))
    subject: Mapped[str] = mapped_column(sa.String(MAX_SUBJECT))
    text: Mapped[str] = mapped_column(sa.Text)
    html: Mapped[str | None] = mapped_column(sa.Text)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    updated_by: Mapped[str | None] = mapped_column(sa.String(64))


@dataclass(frozen=True)
class TemplateProblem:
    part: str  # subject, text or html
    message: str


def sandbox(html: bool = False) -> ImmutableSandboxedEnvironment:
    return ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=html,
                                         keep_trailing_newline=True)


def check(parts: dict[str, str | None], variables: frozenset[str]) -> list[TemplateProblem]:
    """What is wrong with a tenant's template parts: syntax, or variables the mail lacks."""
    problems: list[TemplateProblem] = []
    allowed = variables | ALWAYS_AVAILABLE
    for part, source in parts.items():
        if source is None:
            continue
        env = sandbox(html=part == "html")
        try:
            unknown = sorted(meta.find_undeclared_variables(env.parse(source)) - allowed)
        except TemplateSyntaxError as exc:
            problems.append(TemplateProblem(part, f"line {exc.lineno}: {exc.message}"))
            continue
        if unknown:
            problems.append(TemplateProblem(
                part, f"unknown variable(s) {', '.join(unknown)}; this mail offers "
                f"{', '.join(sorted(allowed))}"))
    return problems


def find(tenant_id: uuid.UUID, name: str) -> MailTemplateOverride | None:
    return db.session.scalars(
        sa.select(MailTemplateOverride).where(MailTemplateOverride.tenant_id == tenant_id,
                                              MailTemplateOverride.name == name)
    ).one_or_none()


def save(tenant_id: uuid.UUID, name: str, subject: str, text: str, html: str | None,
         actor: str | None) -> MailTemplateOverride:
    row = find(tenant_id, name)
    if row is None:
        row = MailTemplateOverride(tenant_id=tenant_id, name=name)
        db.session.add(row)
    row.subject, row.text, row.html, row.updated_by = subject, text, html, actor
    row.updated_at = utcnow()
    db.session.flush()
    return row
