-- The directory's published read interface. The directory service owns `users`, `groups`
-- and `group_members`; other services (roles, sessions) read only these views, never the
-- tables, so the directory may change its storage without breaking them. Simple views:
-- PostgreSQL inlines them (no cost) and allows row locks through them (FOR SHARE).
CREATE VIEW directory_users AS
    SELECT tenant_id, id, active, version FROM users;
CREATE VIEW directory_groups AS
    SELECT tenant_id, id FROM groups;
CREATE VIEW directory_memberships AS
    SELECT tenant_id, group_id, member_id, member_type FROM group_members;
