"""SCIM 2.0 (RFC 7643/7644) logic: schemas, errors, filters, PATCH, IdP dialects. Pure code."""
