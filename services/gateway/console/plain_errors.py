"""A provisioning error in plain words, with what to change in the IdP (pure).

Keyed by the ledger's stable `reason_code` (docs/operations.md); an unknown code still gets
a sentence, never an empty cell."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PlainError:
    what: str
    fix: str


_WORDS: dict[str, PlainError] = {
    "uniqueness": PlainError(
        "A user or group with the same userName (or group name) already exists here.",
        "Make the IdP's username attribute unique, or link the existing account instead of"
        " creating a second one (match on userName or externalId)."),
    "invalid_filter": PlainError(
        "The IdP sent a search filter dsync could not read.",
        "Check the matching attribute in the IdP's SCIM settings (userName or externalId)."),
    "invalid_value": PlainError(
        "An attribute had a value of the wrong form (for example a non-boolean 'active' or"
        " an email without '@').",
        "Fix the attribute mapping in the IdP so each attribute sends the right kind of"
        " value; the detail names the attribute."),
    "invalid_syntax": PlainError(
        "The request was not valid SCIM JSON.",
        "Check custom attribute mappings and expressions in the IdP."),
    "no_target": PlainError(
        "A change pointed at an attribute or member that does not exist.",
        "Push the group again from the IdP so its members are sent fresh."),
    "mutability": PlainError(
        "The IdP tried to change a read-only attribute (such as id or groups on a user).",
        "Remove the mapping for that attribute in the IdP."),
    "version_mismatch": PlainError(
        "The IdP changed a record that had changed meanwhile (ETag mismatch).",
        "Nothing to change: the IdP retries with the current version."),
    "not_found": PlainError(
        "The IdP referred to a user or group that does not exist here (deleted or never"
        " provisioned).",
        "Re-push the user or group from the IdP, or unassign and assign it again."),
    "too_large": PlainError(
        "The request was too large.",
        "Lower the IdP's batch size or push very large groups in parts."),
    "unresolved_reference": PlainError(
        "A Bulk request referred to an operation that failed or does not exist.",
        "Look at the first error in the same Bulk request and fix that one."),
    "broker_unavailable": PlainError(
        "dsync could not queue the change (a temporary outage on our side).",
        "Nothing to change in the IdP; it retries, or your operator retries it."),
    "not_delivered": PlainError(
        "The change was accepted but not applied in time (a temporary outage on our side).",
        "Nothing to change in the IdP; your operator can retry it."),
    "internal": PlainError(
        "Something failed on dsync's side.",
        "Nothing to change in the IdP; your operator has the details."),
}


def explain(reason_code: str | None) -> PlainError:
    """Plain words for a reason code (a generic sentence for an unknown one)."""
    return _WORDS.get(reason_code or "", PlainError(
        f"The request was refused ({reason_code or 'no reason recorded'}).",
        "Check the IdP's attribute mappings; your operator can see the full detail."))
