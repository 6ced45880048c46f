"""marshmallow schemas of the pages API. Request bodies reject unknown fields.

Puck documents are ``Raw``: marshmallow never rebuilds them, so they are stored and
returned exactly as the editor sent them; :mod:`.puck` validates them instead.
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from marshmallow import fields, validate

from plugins.pages.models import Page


class Strict(ma.Schema):
    class Meta:
        unknown = ma.RAISE


class PuckDataSchema(ma.Schema):
    """Puck ``Data`` (documentation only: documents are validated by ``puck.py``)."""

    root = fields.Dict(metadata={"description": "{props: {...}}: the root component's props"})
    content = fields.List(fields.Dict(), metadata={"description": "ComponentData[]"})
    zones = fields.Dict(metadata={"description": "legacy DropZones: '<id>:<zone>' -> ComponentData[]"})


# The structure puck.validate checks, for the document: what JSON Schema cannot say (ids
# unique in the document, a zone's owner present, the tenant's component allowlist and
# size limits) is refused with a 422 naming the pointer.
_COMPONENT: dict[str, object] = {
    "type": "object",
    "required": ["type", "props"],
    "properties": {
        "type": {"type": "string", "minLength": 1, "description": "the component's name"},
        "props": {"type": "object", "required": ["id"],
                  "properties": {"id": {"type": "string", "minLength": 1, "not": {"enum": ["root"]},
                                        "description": "unique in the document"}}},
        "readOnly": {"type": "object", "additionalProperties": {"type": "boolean"}},
    },
}
Document = fields.Raw(metadata={
    "description": "Puck Data: {root: {props}, content: ComponentData[], zones?}",
    "type": "object",
    "required": ["root", "content"],
    "properties": {
        "root": {"type": "object", "properties": {"props": {"type": "object"}}},
        "content": {"type": "array", "items": _COMPONENT},
        "zones": {"type": "object", "description": "legacy DropZones: '<component id>:<zone>' -> "
                  "ComponentData[]; the component must be in the document",
                  "additionalProperties": {"type": "array", "items": _COMPONENT}},
    },
})
_title = validate.Length(min=1, max=200)
_version = fields.Integer(validate=validate.Range(min=1, max=2**31 - 1), metadata={
    "description": "the draft version you edited (or send If-Match); a newer draft: 412"})


# What services.normalize_path accepts (it lowercases, and adds or drops the outer
# slashes), so the document states it: segments of letters, digits, '.', '_', '-'.
_SEGMENT = r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,98}[A-Za-z0-9])?"
_path = [validate.Length(min=1, max=255),
         validate.Regexp(rf"^/?(?:{_SEGMENT}(?:/{_SEGMENT})*/?)?$",
                         error="segments of letters, digits, '.', '_' and '-', e.g. /events/summer-2026")]


class PageCreateSchema(Strict):
    path = fields.String(required=True, validate=_path,
                         metadata={"description": "'/', '/about', '/events/summer-2026'"})
    title = fields.String(required=True, validate=_title)
    data = fields.Raw(load_default=None, metadata=Document.metadata)


class PagePatchSchema(Strict):
    path = fields.String(validate=_path)
    title = fields.String(validate=_title)
    data = fields.Raw(metadata=Document.metadata)
    version = _version


class PagePublishSchema(Strict):
    message = fields.String(validate=validate.Length(max=500), load_default=None)
    version = _version


class PageRestoreSchema(Strict):
    publish = fields.Boolean(load_default=False, metadata={"description": "publish it at once"})
    version = _version


class PageSummarySchema(ma.Schema):
    id = fields.UUID()
    path = fields.String()
    title = fields.String()
    status = fields.String(metadata={"description": "draft or published"})
    version = fields.Integer(metadata={"description": "the draft's version (also the ETag)"})
    published_version = fields.Integer(allow_none=True)
    published_at = fields.DateTime(allow_none=True)
    created_by = fields.String(allow_none=True)
    updated_by = fields.String(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()

    def get_attribute(self, obj: Any, attr: str, default: Any) -> Any:
        # A page is read with getattr, as marshmallow's own look-up ends up doing for an
        # object without __getitem__ or a dotted name, minus its checks on every field.
        if isinstance(obj, Page):
            return getattr(obj, attr, default)
        return super().get_attribute(obj, attr, default)


class PageSchema(PageSummarySchema):
    data = fields.Raw(metadata=Document.metadata)


class PageVersionSummarySchema(ma.Schema):
    number = fields.Integer()
    title = fields.String()
    draft_version = fields.Integer()
    author = fields.String(allow_none=True)
    message = fields.String(allow_none=True)
    created_at = fields.DateTime()


class PageVersionSchema(PageVersionSummarySchema):
    data = fields.Raw(metadata=Document.metadata)


class PageAssetUploadSchema(Strict):
    file = fields.Raw(required=True, metadata={"type": "string", "format": "binary"})


class PageAssetSchema(ma.Schema):
    url = fields.String(metadata={"description": "absolute, public, immutable: use it in props"})
    key = fields.String(metadata={"description": "the storage key"})
    content_type = fields.String()
    size = fields.Integer()
    sha256 = fields.String()


class PublicPageSchema(ma.Schema):
    path = fields.String()
    title = fields.String()
    updated_at = fields.DateTime()
