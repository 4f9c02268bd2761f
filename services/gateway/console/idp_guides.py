"""Step-by-step instructions for connecting each supported IdP to dsync's SCIM endpoint
(pure data). `{scim_url}` in a step is replaced by the tenant's SCIM base URL."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Guide:
    key: str
    name: str
    steps: tuple[str, ...]
    test_hint: str


GUIDES: dict[str, Guide] = {g.key: g for g in (
    Guide("okta", "Okta", (
        "In the Okta Admin Console open Applications → your app → General and enable SCIM"
        " provisioning (for an app integration: App Settings → Provisioning: SCIM).",
        "Open the Provisioning tab → Integration → Edit.",
        "SCIM connector base URL: {scim_url}",
        "Unique identifier field for users: userName.",
        "Supported provisioning actions: Push New Users, Push Profile Updates, Push Groups.",
        "Authentication Mode: HTTP Header; paste the token below as the Bearer token.",
        "Click Test Connector Configuration, then Save.",
        "Under Provisioning → To App enable Create Users, Update User Attributes and"
        " Deactivate Users; assign people and push groups.",
    ), "Okta's \u201cTest Connector Configuration\u201d sends GET /Users — it shows up here."),
    Guide("entra", "Microsoft Entra ID", (
        "In the Entra admin center open Enterprise applications → New application →"
        " Create your own application (non-gallery).",
        "Open Provisioning → Get started; set Provisioning Mode to Automatic.",
        "Tenant URL: {scim_url}",
        "Secret Token: paste the token below.",
        "Click Test Connection, then Save.",
        "Under Mappings keep userPrincipalName → userName; assign users and groups under"
        " Users and groups, then Start provisioning.",
    ), "Entra's \u201cTest Connection\u201d sends GET /Users?filter=… — it shows up here."),
    Guide("onelogin", "OneLogin", (
        "Applications → Add App → search \u201cSCIM Provisioner with SAML (SCIM v2"
        " Enterprise)\u201d and save it.",
        "Configuration tab: SCIM Base URL {scim_url}",
        "SCIM Bearer Token: paste the token below; click Enable under API Connection.",
        "Provisioning tab: enable provisioning and choose what happens on user deletion"
        " (Delete is recommended) and suspension (Suspend).",
        "Parameters tab: map Groups and tick \u201cInclude in User Provisioning\u201d.",
    ), "Enabling the API connection sends a first request — it shows up here."),
    Guide("jumpcloud", "JumpCloud", (
        "SSO Applications → + Add New Application → Custom Application (SCIM).",
        "Identity Management tab: SCIM version 2.0, Base URL {scim_url}",
        "Token Key: paste the token below; Test User Email: a real user's email.",
        "Click Test Connection, then Activate and Save.",
        "Bind user groups to the application so their members are provisioned.",
    ), "\u201cTest Connection\u201d creates and deletes the test user — both show up here."),
    Guide("google", "Google Workspace", (
        "Google Workspace pushes users by SCIM only to apps from its catalogue or a custom"
        " SAML app with auto-provisioning; open Admin console → Apps → Web and mobile apps.",
        "Open your custom SAML app → Auto-provisioning → Set up.",
        "Endpoint URL: {scim_url}",
        "Access token: paste the token below.",
        "Map Primary email → userName; choose the groups to provision; turn"
        " auto-provisioning on.",
    ), "Google sends its first request when auto-provisioning is turned on."),
    Guide("generic", "Another SCIM 2.0 client", (
        "SCIM base URL: {scim_url} (endpoints /Users, /Groups, /Bulk, /Schemas).",
        "Authentication: HTTP header Authorization: Bearer <the token below>.",
        "Media type application/scim+json (application/json is accepted too).",
        "Send a test request, e.g. GET {scim_url}/Users?count=1.",
    ), "Any request with the token shows up here."),
)}


def guide(key: str | None) -> Guide | None:
    return GUIDES.get(key or "")


def steps(g: Guide, scim_url: str) -> list[str]:
    return [s.replace("{scim_url}", scim_url) for s in g.steps]
