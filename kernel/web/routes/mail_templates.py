"""``/api/v1/tenant/mail-templates``: a tenant's own versions of its customers' mail.

.. versionadded:: 1.1
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields, validate

from kernel.data.session import db
from kernel.identity.auth import auth_required, current_principal
from kernel.problems import problem
from kernel.runtime import audit, mail_templates
from kernel.runtime.mail import Mailer
from kernel.services import kernel_services
from kernel.tenancy.scope import current_tenant_id
from kernel.web.schemas import Strict

blp = Blueprint("mail_templates", __name__, url_prefix="/api/v1/tenant/mail-templates",
                description="Mail templates a tenant may override")


class PartsSchema(ma.Schema):
    subject = fields.String(required=True)
    text = fields.String(required=True)
    html = fields.String(allow_none=True, required=True)


class TemplateBriefSchema(ma.Schema):
    name = fields.String(required=True)
    overridden = fields.Boolean(required=True)
    variables = fields.List(fields.String(), required=True)


class TemplateSchema(TemplateBriefSchema, PartsSchema):
    default = fields.Nested(PartsSchema, required=True)
    updated_at = fields.DateTime(allow_none=True)


class TemplatePutSchema(Strict):
    subject = fields.String(required=True, validate=validate.Length(min=1, max=mail_templates.MAX_SUBJECT))
    text = fields.String(required=True, validate=validate.Length(min=1, max=mail_templates.MAX_TEXT))
    html = fields.String(load_default=None, allow_none=True,
                         validate=validate.Length(min=1, max=mail_templates.MAX_HTML))


def _mailer() -> Mailer:
    return kernel_services().mailer


def _known(name: str) -> str:
    if name not in _mailer().tenant_templates():
        problem(404, "not-found", title="Not found",
                detail=f"No mail template {name!r} can be overridden; see GET /api/v1/tenant/mail-templates.")
    return name


def _describe(name: str) -> dict[str, Any]:
    mailer = _mailer()
    default = mailer.default_parts(name)
    row = mail_templates.find(current_tenant_id(), name)
    current = default if row is None else {"subject": row.subject, "text": row.text, "html": row.html}
    return {"name": name, "overridden": row is not None, "variables": sorted(mailer.variables(name)),
            **current, "default": default, "updated_at": row.updated_at if row else None}


@blp.route("")
class MailTemplates(MethodView):
    @auth_required("tenant.read")
    @blp.response(200, TemplateBriefSchema(many=True))
    def get(self) -> list[dict[str, Any]]:
        """Every template the tenant may override, and whether it does."""
        mailer = _mailer()
        return [{"name": n, "overridden": mail_templates.find(current_tenant_id(), n) is not None,
                 "variables": sorted(mailer.variables(n))} for n in mailer.tenant_templates()]


@blp.route("/<string:name>")
class MailTemplateItem(MethodView):
    @auth_required("tenant.read")
    @blp.response(200, TemplateSchema)
    def get(self, name: str) -> dict[str, Any]:
        """The template in effect for this tenant, the shipped default and its variables."""
        return _describe(_known(name))

    @auth_required("tenant.write")
    @blp.arguments(TemplatePutSchema)
    @blp.response(200, TemplateSchema)
    def put(self, data: dict[str, Any], name: str) -> dict[str, Any]:
        """Replace the template for this tenant (Jinja2, rendered in a sandbox)."""
        _known(name)
        problems = mail_templates.check(data, _mailer().variables(name))
        if problems:
            problem(422, "validation-error", title="Validation failed",
                    detail="; ".join(f"{p.part}: {p.message}" for p in problems),
                    errors=[{"field": p.part, "pointer": f"/{p.part}", "location": "json",
                             "message": p.message} for p in problems])
        principal = current_principal()
        mail_templates.save(current_tenant_id(), name, data["subject"], data["text"], data["html"],
                            principal.actor_id if principal else None)
        db.session.commit()
        audit.describe("mail_templates.update", "mail_template", name)
        return _describe(name)

    @auth_required("tenant.write")
    @blp.response(204)
    def delete(self, name: str) -> None:
        """Go back to the shipped template."""
        row = mail_templates.find(current_tenant_id(), _known(name))
        if row is not None:
            db.session.delete(row)
            db.session.commit()
        audit.describe("mail_templates.reset", "mail_template", name)
