"""The resource a write answers with, rendered inside the write's transaction."""
from __future__ import annotations

from uuid import UUID

from dsync.db import DbConnection
from dsync.messages.answers import WriteAnswer
from dsync.scim.render import group_resource, user_resource
from dsync.store.reads import group_members, user_groups
from dsync_services.directory.decisions import SaveResource

# A group write answers with its members up to this many; bigger groups are read by the
# gateway page by page (GET /Groups/{id}).
MEMBERS_IN_ANSWER = 1000


async def answer_saved(conn: DbConnection, tenant_id: UUID, status: int,
                       save: SaveResource) -> WriteAnswer:
    """The answer of a write that saved `save`, with the resource as stored now."""
    if save.resource_type == "User":
        groups = [] if save.is_new else await user_groups(conn, tenant_id, save.id)
        return WriteAnswer(status=status, resource=user_resource(
            save.id, save.doc, save.version, save.created_at, save.updated_at, groups))
    members = await group_members(conn, tenant_id, save.id, limit=MEMBERS_IN_ANSWER + 1)
    complete = len(members) <= MEMBERS_IN_ANSWER
    return WriteAnswer(status=status, members_complete=complete, resource=group_resource(
        save.id, save.doc, save.version, save.created_at, save.updated_at,
        members if complete else None))
