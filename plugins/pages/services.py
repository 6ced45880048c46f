"""Pages: drafts, optimistic concurrency, publishing and history. No Flask in here.

Every function takes the tenant it works for and runs inside that tenant's scope, so
the same code serves API views, the demo seeder and any job. Failures are the
:class:`PagesError` subclasses below; ``api.py`` turns them into problem responses.
Changes that affect what storefronts see are announced through :mod:`.cache` once the
transaction commits. Services flush and never commit: the caller (a view, a job, an event
handler, the demo seeder) commits, so a service's work commits together with the rest of
the caller's. After a :class:`PagesError` the caller's transaction may be unusable (a
failed flush): roll it back.
"""

from __future__ import annotations

import copy
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm
from sqlalchemy.exc import IntegrityError

from kernel.api import db, tenant_scope, utcnow
from plugins.pages import cache, puck
from plugins.pages.models import DRAFT, PUBLISHED, Page, PageVersion

EMPTY_DOCUMENT: dict[str, Any] = {"root": {"props": {}}, "content": []}
SEGMENT_RE = re.compile(r"^[a-z0-9](?:[a-z0-9._-]{0,98}[a-z0-9])?$")
MAX_PATH = 255


class PagesError(Exception):
    """Base of the expected failures of this module."""


class PageNotFound(PagesError):
    pass


class VersionNotFound(PagesError):
    pass


class PathTaken(PagesError):
    def __init__(self, path: str) -> None:
        super().__init__(f"Another page already has the path {path!r}.")
        self.path = path


class StaleVersion(PagesError):
    """The caller edited an older draft version than the current one."""

    def __init__(self, expected: int, current: int) -> None:
        super().__init__(f"The draft is at version {current}; your change was based on {expected}. "
                         "Reload the page, reapply your change and send the new version.")
        self.current = current


class InvalidPage(PagesError):
    """``problems`` point into the request body (``/data/...``, ``/path``)."""

    def __init__(self, problems: Sequence[puck.Problem]) -> None:
        super().__init__("The page does not satisfy the rules; see errors.")
        self.problems = list(problems)


@dataclass(frozen=True)
class Settings:
    """A tenant's ``pages`` config, with defaults filled in."""

    limits: puck.Limits = field(default_factory=puck.Limits)
    components: frozenset[str] | None = None  # None: every component type is allowed
    max_asset_bytes: int = 10 * 1024 * 1024
    cache_max_age: int = 60
    stale_while_revalidate: int = 300
    component_data_ttl: int = 30

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Settings:
        limits = puck.Limits(**{k: config[k] for k in ("max_bytes", "max_depth", "max_nodes")
                                if k in config})
        components = config.get("components")
        scalars = ("max_asset_bytes", "cache_max_age", "stale_while_revalidate", "component_data_ttl")
        return cls(limits, frozenset(components) if components else None,
                   **{k: config[k] for k in scalars if k in config})


def normalize_path(raw: str) -> str:
    """``/``, ``/about``, ``/events/summer-2026``: lowercase, no empty or dot segments.

    One trailing slash is dropped and a missing leading one added; anything else that is
    not a plain segment (letters, digits, ``.``, ``_``, ``-``) raises :class:`InvalidPage`.
    """
    path = raw.strip().lower()
    path = "/" + path.removeprefix("/")
    if len(path) > 1:
        path = path.removesuffix("/")
    if path == "/":
        return path
    if len(path) > MAX_PATH:
        raise InvalidPage([puck.Problem("/path", f"a path has at most {MAX_PATH} characters")])
    for segment in path[1:].split("/"):
        if not SEGMENT_RE.match(segment):
            raise InvalidPage([puck.Problem("/path", f"segment {segment!r} is not allowed: use "
                                            "lowercase letters, digits, '.', '_' and '-' "
                                            "(no empty, '.' or '..' segments)")])
    return path


def check_document(data: Any, settings: Settings) -> None:
    problems = puck.validate(data, settings.limits, settings.components)
    if problems:
        raise InvalidPage([puck.Problem("/data" + p.pointer, p.message) for p in problems])


def get_page(tenant_id: uuid.UUID, page_id: uuid.UUID) -> Page:
    with tenant_scope(tenant_id):
        page = db.session.get(Page, page_id)
    if page is None:
        raise PageNotFound(f"No page {page_id} in this tenant.")
    return page


def page_at(tenant_id: uuid.UUID, path: str) -> Page | None:
    with tenant_scope(tenant_id):
        return db.session.scalars(sa.select(Page).where(Page.path == normalize_path(path))).one_or_none()


def pages_query() -> sa.Select[Page]:
    """Every page of the tenant in scope, by path (for paginated lists).

    Without the documents: a list shows summaries, so reading and decoding every page's
    JSON document is wasted work. Reading ``data`` from one of these pages raises rather
    than querying once per page.
    """
    return sa.select(Page).options(_WITHOUT_DOCUMENT).order_by(Page.path)


_WITHOUT_DOCUMENT = orm.defer(Page.data, raiseload=True)  # built once: options are immutable


def create_page(tenant_id: uuid.UUID, actor: str, settings: Settings, *, path: str, title: str,
                data: Any = None) -> Page:
    data = copy.deepcopy(EMPTY_DOCUMENT) if data is None else data
    path = normalize_path(path)
    check_document(data, settings)
    with tenant_scope(tenant_id):
        page = Page(path=path, title=title, data=data, version=1, status=DRAFT,
                    created_by=actor, updated_by=actor)
        db.session.add(page)
        _flush(path)
    return page


def update_draft(tenant_id: uuid.UUID, page_id: uuid.UUID, actor: str, settings: Settings,
                 changes: Mapping[str, Any], expected: int | None) -> Page:
    """Apply ``changes`` (path, title, data) if the draft is still at version ``expected``.

    The check and the write are one conditional UPDATE, so of two writers holding the
    same version exactly one succeeds, on every database.
    """
    values = dict(changes)
    if "path" in values:
        values["path"] = normalize_path(values["path"])
    if "data" in values:
        check_document(values["data"], settings)
    page = get_page(tenant_id, page_id)
    with tenant_scope(tenant_id):
        stmt = sa.update(Page).where(Page.id == page_id)
        if expected is not None:
            stmt = stmt.where(Page.version == expected)
        stmt = stmt.values(**values, version=Page.version + 1, updated_by=actor, updated_at=utcnow())
        try:
            updated = db.session.execute(stmt, execution_options={"synchronize_session": False})
        except IntegrityError:
            raise PathTaken(values.get("path", "")) from None
        if updated.rowcount == 0:  # type: ignore[attr-defined]
            db.session.refresh(page)  # the version that won, not the one read before
            raise StaleVersion(expected or 0, page.version)
        if page.published_version is not None and "path" in values:
            cache.announce(tenant_id)
        db.session.refresh(page)
    return page


def delete_page(tenant_id: uuid.UUID, page_id: uuid.UUID) -> None:
    page = get_page(tenant_id, page_id)
    with tenant_scope(tenant_id):
        if page.published_version is not None:
            cache.announce(tenant_id)
        db.session.delete(page)
        db.session.flush()


def publish(tenant_id: uuid.UUID, page_id: uuid.UUID, actor: str, settings: Settings, *,
            message: str | None = None, expected: int | None = None) -> PageVersion:
    """Snapshot the draft as the next version and make it live."""
    with tenant_scope(tenant_id):
        page = _locked(page_id)
        if expected is not None and page.version != expected:
            raise StaleVersion(expected, page.version)
        check_document(page.data, settings)
        version = _snapshot(page, actor, message)
        _go_live(tenant_id, page, version)
    return version


def unpublish(tenant_id: uuid.UUID, page_id: uuid.UUID) -> Page:
    with tenant_scope(tenant_id):
        page = _locked(page_id)
        if page.published_version is not None:
            page.status, page.published_version, page.published_at = DRAFT, None, None
            cache.announce(tenant_id)
        db.session.flush()
    return page


def restore(tenant_id: uuid.UUID, page_id: uuid.UUID, number: int, actor: str,
            settings: Settings, *, publish_now: bool = False, expected: int | None = None) -> Page:
    """Make version ``number`` the draft again (a new draft version); publish it if asked."""
    with tenant_scope(tenant_id):
        page = _locked(page_id)
        old = version_of(tenant_id, page_id, number)
        if expected is not None and page.version != expected:
            raise StaleVersion(expected, page.version)
        page.data, page.title = old.data, old.title
        page.version += 1
        page.updated_by, page.updated_at = actor, utcnow()
        if publish_now:
            check_document(page.data, settings)
            version = _snapshot(page, actor, f"Restored from version {number}")
            _go_live(tenant_id, page, version)
        else:
            db.session.flush()
    return page


def versions_query(page_id: uuid.UUID) -> sa.Select[PageVersion]:
    return (sa.select(PageVersion).where(PageVersion.page_id == page_id)
            .order_by(PageVersion.number.desc()))


def version_of(tenant_id: uuid.UUID, page_id: uuid.UUID, number: int) -> PageVersion:
    with tenant_scope(tenant_id):
        found = db.session.scalars(
            sa.select(PageVersion).where(PageVersion.page_id == page_id, PageVersion.number == number)
        ).one_or_none()
    if found is None:
        raise VersionNotFound(f"Page {page_id} has no version {number}.")
    return found


def _locked(page_id: uuid.UUID) -> Page:
    """The page, its row locked until commit (PostgreSQL), so versions number in order."""
    page = db.session.scalars(
        sa.select(Page).where(Page.id == page_id).with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()
    if page is None:
        raise PageNotFound(f"No page {page_id} in this tenant.")
    return page


def _snapshot(page: Page, actor: str, message: str | None) -> PageVersion:
    last = db.session.scalar(
        sa.select(sa.func.max(PageVersion.number)).where(PageVersion.page_id == page.id))
    version = PageVersion(page_id=page.id, number=(last or 0) + 1, title=page.title,
                          data=page.data, draft_version=page.version, author=actor,
                          message=message)
    db.session.add(version)
    return version


def _go_live(tenant_id: uuid.UUID, page: Page, version: PageVersion) -> None:
    page.status, page.published_version = PUBLISHED, version.number
    page.published_at = version.created_at = utcnow()
    cache.announce(tenant_id)
    db.session.flush()


def _flush(path: str) -> None:
    try:
        db.session.flush()
    except IntegrityError:
        raise PathTaken(path) from None


# -- what storefronts see ------------------------------------------------------------


@dataclass(frozen=True)
class Published:
    path: str
    title: str
    data: Any
    number: int
    published_at: Any


def published_page(tenant_id: uuid.UUID, path: str) -> Published | None:
    """The live version of the page at ``path``; None when there is none (drafts never)."""
    with tenant_scope(tenant_id):
        row = db.session.execute(
            sa.select(Page.path, PageVersion.title, PageVersion.data, PageVersion.number,
                      Page.published_at)
            .join(PageVersion, sa.and_(PageVersion.page_id == Page.id,
                                       PageVersion.number == Page.published_version))
            .where(Page.path == path)
        ).one_or_none()
    return Published(*row) if row is not None else None


def published_index(tenant_id: uuid.UUID) -> list[dict[str, Any]]:
    """Path, live title and publication time of every published page, by path."""
    with tenant_scope(tenant_id):
        rows = db.session.execute(
            sa.select(Page.path, PageVersion.title, Page.published_at)
            .join(PageVersion, sa.and_(PageVersion.page_id == Page.id,
                                       PageVersion.number == Page.published_version))
            .order_by(Page.path)
        ).all()
    return [{"path": path, "title": title, "updated_at": at} for path, title, at in rows]
