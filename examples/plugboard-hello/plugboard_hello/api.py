"""HTTP routes: the tenant's message board and the storefront greeting.

The kernel gates both blueprints: a tenant that has not enabled ``hello`` gets a 404
``plugin-not-enabled`` before these views run, and the tenant scope is already open.
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma
import sqlalchemy as sa
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields, validate

from kernel.api import (
    audit_describe,
    auth_required,
    current_principal,
    db,
    emit,
    enqueue,
    paginate,
    plugin_config,
    public_tenant,
)
from plugboard_hello.models import HelloMessage

DEFAULT_GREETING = "Hello!"

blp = Blueprint("hello", __name__, url_prefix="/api/v1/hello", description="Hello (example plugin)")
public_blp = Blueprint("hello_public", __name__, url_prefix="/api/v1/public/hello",
                       description="Hello (example plugin), storefront")


class MessageSchema(ma.Schema):
    id = fields.UUID(dump_only=True)
    text = fields.String(required=True, validate=validate.Length(min=1, max=280))
    author = fields.String(dump_only=True)
    created_at = fields.DateTime(dump_only=True)


class GreetingSchema(ma.Schema):
    tenant = fields.String(required=True)
    greeting = fields.String(required=True)


@blp.route("/messages")
class Messages(MethodView):
    @auth_required()
    @blp.response(200, MessageSchema(many=True))
    @blp.paginate()
    def get(self, pagination_parameters: Any) -> list[HelloMessage]:
        """The tenant's messages, newest first."""
        stmt = sa.select(HelloMessage).order_by(HelloMessage.created_at.desc(), HelloMessage.id)
        return paginate(stmt, pagination_parameters)

    @auth_required("hello.write")
    @blp.arguments(MessageSchema)
    @blp.response(201, MessageSchema)
    def post(self, data: dict[str, Any]) -> HelloMessage:
        """Post a message (permission ``hello.write``: managers and above)."""
        principal = current_principal()
        assert principal is not None  # auth_required authenticated the caller
        message = HelloMessage(text=data["text"], author=principal.actor_id)
        db.session.add(message)
        db.session.flush()
        # Both join this transaction: the event and the job exist only if the message does.
        emit("hello.message.posted", {"message_id": str(message.id)})
        if message.text.rstrip().endswith("?"):  # the bot answers questions, later
            enqueue("hello.answer_question", message_id=str(message.id))
        db.session.commit()
        audit_describe("hello.message.create", "hello_message", message.id)
        return message


@public_blp.get("/greeting")
@public_blp.response(200, GreetingSchema)
def greeting() -> dict[str, str]:
    """The tenant's configured greeting, for its storefront (tenant from Host or X-Tenant)."""
    config = plugin_config("hello")
    return {"tenant": public_tenant().name, "greeting": config.get("greeting") or DEFAULT_GREETING}
