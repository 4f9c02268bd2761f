"""Compiled SCIM filters and sorts executed against real PostgreSQL (migrated schema).

Each case names the users/groups that must match, exactly. Tenant filtering is the caller's
job, so every query here adds `r.tenant_id = $1` the way the directory's reads do.
"""
from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dsync.scim import errors
from dsync.scim.filter import compile_filter, compile_sort
from dsync.scim.schema import ENTERPRISE_SCHEMA, USER_SCHEMA
from dsync_testkit.plugin import Servers, fresh_database

TENANT = uuid.UUID("00000000-0000-0000-0000-00000000000a")
OTHER_TENANT = uuid.UUID("00000000-0000-0000-0000-00000000000b")
ENT = ENTERPRISE_SCHEMA


def _uid(n: int) -> uuid.UUID:
    return uuid.UUID(f"00000000-0000-0000-0000-{n:012d}")


BJENSEN, JSMITH, ALICE, BOB, ZED = (_uid(n) for n in (101, 102, 103, 104, 105))
ADMINS, STAFF, EMPTY = (_uid(n) for n in (201, 202, 203))
T0 = datetime(2011, 5, 13, 4, 0, tzinfo=UTC)

USERS: list[dict[str, Any]] = [
    {"id": BJENSEN, "userName": "bjensen", "displayName": "Babs Jensen", "externalId": "ext-1",
     "active": True, "created": T0, "doc": {
         "schemas": [USER_SCHEMA, ENT], "name": {"givenName": "Barbara", "familyName": "Jensen"},
         "title": "Tour Guide", "userType": "Employee",
         "emails": [{"value": "bjensen@example.com", "type": "work", "primary": True},
                    {"value": "babs@home.org", "type": "home"}],
         ENT: {"department": "Sales", "manager": {"value": "m-1"}}}},
    {"id": JSMITH, "userName": "JSmith", "displayName": "John Smith", "externalId": "EXT-2",
     "active": False, "created": T0 + timedelta(days=1), "doc": {
         "schemas": [USER_SCHEMA], "name": {"familyName": "O'Malley"}, "userType": "Intern",
         "emails": [{"value": "jsmith@example.org", "type": "work"}],
         "ims": [{"value": "js@foo.com", "type": "xmpp"}]}},
    {"id": ALICE, "userName": "alice_100%", "displayName": "alice", "externalId": None,
     "active": True, "created": T0 + timedelta(days=2), "doc": {
         "schemas": [USER_SCHEMA, ENT], "title": "", "emails": [],
         "name": {"familyName": "Archer"}, ENT: {"department": "Engineering"}}},
    {"id": BOB, "userName": "bob", "displayName": None, "externalId": "ext-4", "active": True,
     "created": T0 + timedelta(days=3), "doc": {
         "schemas": [USER_SCHEMA], "title": None, "userType": "Employee",
         "name": {"givenName": None}}},
    {"id": ZED, "userName": "Zed", "displayName": "zed", "externalId": "ext-5", "active": True,
     "created": T0 + timedelta(days=4), "doc": {
         "schemas": [USER_SCHEMA], "name": {"familyName": "zulu"},
         "emails": [{"value": "z@example.com", "type": "work", "primary": False},
                    {"value": "Zed@Work.example", "type": "work", "primary": True}]}},
]
GROUPS = [(ADMINS, "Admins", "g-ext-1"), (STAFF, "Staff", None), (EMPTY, "Empty", None)]
MEMBERS = [(ADMINS, BJENSEN, "User"), (ADMINS, JSMITH, "User"), (STAFF, ADMINS, "Group"),
           (STAFF, ALICE, "User")]


async def _insert_user(conn: asyncpg.Connection, tenant: uuid.UUID, u: dict[str, Any]) -> None:
    doc = {"userName": u["userName"], "active": u["active"], **u["doc"]}
    if u["displayName"] is not None:
        doc["displayName"] = u["displayName"]
    if u["externalId"] is not None:
        doc["externalId"] = u["externalId"]
    await conn.execute(
        "INSERT INTO users (tenant_id, id, user_name, external_id, active, display_name, doc,"
        " created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9)",
        tenant, u["id"], u["userName"], u["externalId"], u["active"], u["displayName"],
        json.dumps(doc), u["created"], u["created"] + timedelta(hours=1))


async def _seed(connection: asyncpg.Connection) -> None:
    for u in USERS:
        await _insert_user(connection, TENANT, u)
    # Same people in another tenant: never visible, and never joined through group_members.
    await _insert_user(connection, OTHER_TENANT, {**USERS[0], "id": _uid(901)})
    for gid, name, ext in GROUPS:
        await connection.execute(
            "INSERT INTO groups (tenant_id, id, display_name, external_id, doc, created_at,"
            " updated_at) VALUES ($1, $2, $3, $4, $5::jsonb, $6, $6)", TENANT, gid, name, ext,
            json.dumps({"displayName": name}), T0 + timedelta(minutes=gid.int % 1000))
    for gid, mid, kind in MEMBERS:
        await connection.execute("INSERT INTO group_members VALUES ($1, $2, $3, $4)",
                                 TENANT, gid, mid, kind)
    await connection.execute("INSERT INTO group_members VALUES ($1, $2, $3, 'User')",
                             OTHER_TENANT, EMPTY, _uid(901))


@pytest.fixture(scope="module")
async def conn(servers: Servers) -> AsyncIterator[asyncpg.Connection]:
    """One seeded database for the whole module: these tests only read."""
    connection = await asyncpg.connect(await fresh_database(servers))
    await _seed(connection)
    yield connection
    await connection.close()


async def _ids(conn: asyncpg.Connection, table: str, text: str, kind: str,
               order: str = "r.id") -> list[uuid.UUID]:
    fragment = compile_filter(text, kind, first_param=2)  # type: ignore[arg-type]
    rows = await conn.fetch(f"SELECT r.id FROM {table} r WHERE r.tenant_id = $1 AND "
                            f"{fragment.sql} ORDER BY {order}", TENANT, *fragment.params)
    return [row["id"] for row in rows]


USER_CASES = [
    # RFC 7644 §3.4.2.2 examples
    ('userName eq "bjensen"', {BJENSEN}),
    ('userName eq "BJENSEN"', {BJENSEN}),                       # userName is caseExact=false
    ('name.familyName co "O\'Malley"', {JSMITH}),
    ('userName sw "J"', {JSMITH}),
    ('urn:ietf:params:scim:schemas:core:2.0:User:userName sw "j"', {JSMITH}),
    ('title pr', {BJENSEN}),                                    # "" and null are not present
    ('meta.lastModified gt "2011-05-14T04:42:34Z"', {JSMITH, ALICE, BOB, ZED}),
    ('meta.lastModified ge "2011-05-14T05:00:00Z"', {JSMITH, ALICE, BOB, ZED}),
    ('meta.lastModified lt "2011-05-14T05:00:00Z"', {BJENSEN}),
    ('meta.lastModified le "2011-05-14T05:00:00+00:00"', {BJENSEN, JSMITH}),
    ('title pr and userType eq "Employee"', {BJENSEN}),
    ('title pr or userType eq "Intern"', {BJENSEN, JSMITH}),
    (f'schemas eq "{ENT}"', {BJENSEN, ALICE}),
    ('userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")',
     {BJENSEN}),
    ('userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")',
     {ALICE}),
    ('userType eq "Employee" and (emails.type eq "work")', {BJENSEN}),
    ('userType eq "Employee" and emails[type eq "work" and value co "@example.com"]', {BJENSEN}),
    ('emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co '
     '"@foo.com"]', {BJENSEN, JSMITH, ZED}),
    # precedence: and binds tighter than or; not applies to its group only
    ('userName eq "bob" or userName eq "zed" and active eq false', {BOB}),
    ('(userName eq "bob" or userName eq "zed") and active eq true', {BOB, ZED}),
    ('not (active eq true) or userName eq "zed"', {JSMITH, ZED}),
    # caseExact: externalId is, displayName is not
    ('externalId eq "EXT-2"', {JSMITH}),
    ('externalId eq "ext-2"', set()),
    ('displayName eq "ZED"', {ZED}),
    # ne and missing attributes; eq null
    ('externalId ne "ext-1"', {JSMITH, ALICE, BOB, ZED}),
    ('displayName eq null', {BOB}),
    ('title ne null', {BJENSEN}),
    ('emails.value ne "babs@home.org"', {JSMITH, ALICE, BOB, ZED}),
    # pr on complex, multi-valued and empty values
    ('name pr', {BJENSEN, JSMITH, ALICE, ZED}),
    ('emails pr', {BJENSEN, JSMITH, ZED}),
    ('not (emails pr)', {ALICE, BOB}),
    # value paths
    ('emails[type eq "work" and primary eq true]', {BJENSEN, ZED}),
    ('emails[type eq "WORK" and value ew "@work.example"]', {ZED}),
    ('emails[type eq "work"].value eq "jsmith@example.org"', {JSMITH}),
    ('emails[not (type eq "work")]', {BJENSEN}),
    # LIKE wildcards are literal
    ('userName co "100%"', {ALICE}),
    ('userName co "_"', {ALICE}),
    ('userName sw "%"', set()),
    # booleans, ids, dates
    ('active eq false', {JSMITH}),
    ('active eq "False"', {JSMITH}),
    (f'id eq "{BOB}"', {BOB}),
    (f'id eq "{str(BOB).upper()}"', {BOB}),
    ('id eq "not-a-uuid"', set()),
    ('id ne "not-a-uuid"', {BJENSEN, JSMITH, ALICE, BOB, ZED}),
    ('meta.created eq "2011-05-13T04:00:00Z"', {BJENSEN}),
    ('meta.resourceType eq "User" and userName eq "bob"', {BOB}),
    ('meta.version eq "W/\\"1\\""', {BJENSEN, JSMITH, ALICE, BOB, ZED}),
    # enterprise extension, with and without the URN
    (f'{ENT}:department eq "sales"', {BJENSEN}),
    (f'{ENT}:manager.value eq "m-1"', {BJENSEN}),
    ('department sw "Eng"', {ALICE}),
    (f'{ENT}:department pr', {BJENSEN, ALICE}),
    # groups: direct and nested memberships, from group_members
    (f'groups.value eq "{ADMINS}"', {BJENSEN, JSMITH}),
    (f'groups[value eq "{STAFF}" and type eq "indirect"]', {BJENSEN, JSMITH}),
    (f'groups[value eq "{STAFF}" and type eq "direct"]', {ALICE}),
    ('groups.display eq "admins"', {BJENSEN, JSMITH}),
    ('groups pr', {BJENSEN, JSMITH, ALICE}),
    # unknown attributes have no value (RFC 7644 §3.4.2.1)
    ('nickName eq "x" or foo eq "y"', set()),
    ('not (foo pr)', {BJENSEN, JSMITH, ALICE, BOB, ZED}),
]


@pytest.mark.parametrize(("text", "expected"), USER_CASES, ids=[c[0] for c in USER_CASES])
async def test_user_filter_matches_exactly(conn: asyncpg.Connection, text: str,
                                           expected: set[uuid.UUID]) -> None:
    assert set(await _ids(conn, "users", text, "User")) == expected


GROUP_CASES = [
    ('displayName eq "admins"', {ADMINS}),
    ('externalId pr', {ADMINS}),
    (f'members[value eq "{BJENSEN}"]', {ADMINS}),
    (f'members.value eq "{ADMINS}"', {STAFF}),
    ('members[type eq "Group"]', {STAFF}),
    ('members[display eq "alice"]', {STAFF}),
    ('members.display co "Jensen"', {ADMINS}),
    ('members pr', {ADMINS, STAFF}),
    ('not (members pr)', {EMPTY}),
    (f'members.value ne "{ALICE}"', {ADMINS, EMPTY}),
    ('meta.resourceType eq "Group"', {ADMINS, STAFF, EMPTY}),
    ('userName eq "bjensen"', set()),
]


@pytest.mark.parametrize(("text", "expected"), GROUP_CASES, ids=[c[0] for c in GROUP_CASES])
async def test_group_filter_matches_exactly(conn: asyncpg.Connection, text: str,
                                            expected: set[uuid.UUID]) -> None:
    assert set(await _ids(conn, "groups", text, "Group")) == expected


@pytest.mark.parametrize("text", [
    'userName eq "\\u0000"', 'userName eq "\\ud800"', 'meta.created gt "0001-01-01T00:00:00+14:00"',
])
async def test_values_postgres_cannot_take_are_invalid_filters(conn: asyncpg.Connection,
                                                               text: str) -> None:
    with pytest.raises(errors.InvalidFilter):
        await _ids(conn, "users", text, "User")


async def _sorted(conn: asyncpg.Connection, sort_by: str | None, order: str | None,
                  text: str = "meta.resourceType pr") -> list[uuid.UUID]:
    return await _ids(conn, "users", text, "User", compile_sort(sort_by, order, "User"))


async def test_sort_by_username_is_case_insensitive(conn: asyncpg.Connection) -> None:
    assert await _sorted(conn, "userName", None) == [ALICE, BJENSEN, BOB, JSMITH, ZED]
    assert await _sorted(conn, "username", "descending") == [ZED, JSMITH, BOB, BJENSEN, ALICE]


async def test_sort_missing_values_last_ascending_first_descending(
        conn: asyncpg.Connection) -> None:
    assert await _sorted(conn, "name.familyName", "ascending") == [
        ALICE, BJENSEN, JSMITH, ZED, BOB]
    assert await _sorted(conn, "name.familyName", "descending") == [
        BOB, ZED, JSMITH, BJENSEN, ALICE]


async def test_sort_multi_valued_uses_primary_then_first(conn: asyncpg.Connection) -> None:
    # bjensen: primary bjensen@; jsmith: first jsmith@; zed: primary Zed@Work (not z@).
    assert await _sorted(conn, "emails", None, "emails pr") == [BJENSEN, JSMITH, ZED]
    assert await _sorted(conn, "emails.value", "descending", "emails pr") == [
        ZED, JSMITH, BJENSEN]


async def test_sort_by_extension_and_default_order(conn: asyncpg.Connection) -> None:
    assert await _sorted(conn, f"{ENT}:department", None, f"{ENT}:department pr") == [
        ALICE, BJENSEN]
    assert await _sorted(conn, None, None) == [BJENSEN, JSMITH, ALICE, BOB, ZED]


async def test_paging_is_stable_with_many_ties(conn: asyncpg.Connection) -> None:
    order = compile_sort("active", None, "User")        # four users share active=true
    fragment = compile_filter("userName pr", "User", first_param=2)
    pages: list[uuid.UUID] = []
    for offset in range(0, 5, 2):
        rows = await conn.fetch(
            f"SELECT r.id FROM users r WHERE r.tenant_id = $1 AND {fragment.sql} "
            f"ORDER BY {order} LIMIT 2 OFFSET {offset}", TENANT, *fragment.params)
        pages.extend(row["id"] for row in rows)
    assert sorted(pages) == sorted(u["id"] for u in USERS)
    assert pages[0] == JSMITH                            # false sorts before true


async def test_username_eq_uses_the_tenant_username_index(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        await _explain_username_eq(conn)
    finally:
        await conn.close()


async def _explain_username_eq(conn: asyncpg.Connection) -> None:
    rows = [(TENANT, uuid.uuid4(), f"user{i}", json.dumps({"userName": f"user{i}"}), T0)
            for i in range(3000)]
    await conn.executemany(
        "INSERT INTO users (tenant_id, id, user_name, doc, created_at, updated_at)"
        " VALUES ($1, $2, $3, $4::jsonb, $5, $5)", rows)
    await conn.execute("ANALYZE users")
    fragment = compile_filter('userName eq "User1234"', "User", first_param=2)
    plan = await conn.fetch(f"EXPLAIN SELECT r.id FROM users r WHERE r.tenant_id = $1 AND "
                            f"{fragment.sql}", TENANT, *fragment.params)
    text = "\n".join(row[0] for row in plan)
    assert "users_tenant_user_name" in text, text


_PATHS = ["userName", "displayName", "externalId", "id", "active", "title", "name.givenName",
          "name", "emails", "emails.value", "emails.primary", "groups", "groups.value",
          "groups.type", "members.value", "members.display", "meta.created", "meta.version",
          "schemas", f"{ENT}:department", f"{ENT}:manager", "nope"]
_VALUES = st.one_of(
    st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=8)
    .map(json.dumps),
    st.sampled_from(["true", "false", "null", "7", '"2011-05-13T04:42:34Z"', f'"{BOB}"',
                     '"W/\\"1\\""', '"%"', '"_"', '"!"', '"\'"']))
_LEAF = st.one_of(
    st.tuples(st.sampled_from(_PATHS),
              st.sampled_from(["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"]), _VALUES)
    .map(" ".join),
    st.sampled_from(_PATHS).map(lambda p: f"{p} pr"))
_FILTERS = st.recursive(_LEAF, lambda c: st.one_of(
    st.tuples(c, st.sampled_from([" and ", " or "]), c).map("".join),
    c.map(lambda x: f"not ({x})"),
    st.tuples(st.sampled_from(["emails", "groups", "members", "name", "meta", "schemas"]), c)
    .map(lambda t: f"{t[0]}[{t[1]}]")), max_leaves=6)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=_FILTERS, kind=st.sampled_from(["User", "Group"]))
async def test_generated_filters_never_cause_database_errors(conn: asyncpg.Connection,
                                                             text: str, kind: str) -> None:
    """Whatever compiles runs: no type, cast or encoding error reaches PostgreSQL (a 500)."""
    try:
        await _ids(conn, "users" if kind == "User" else "groups", text, kind)
    except errors.InvalidFilter:
        pass
