"""Roles and what each may do: least privilege, checked by every page and action.

- installer: sets the box up; badges, settings, accounts, health. Never sees conversation content.
- manager: reviews conversations for coaching: search, transcripts, tag corrections, requests,
  and the site's smart trackers (trained on example sentences, previewed on recent segments).
- auditor: reads the audit log and the consent ledger and verifies the chain. Never sees content.
"""

from __future__ import annotations

from enum import StrEnum


class Permission(StrEnum):
    HEALTH_VIEW = "health.view"
    BADGES_VIEW = "badges.view"
    BADGES_MANAGE = "badges.manage"
    SETTINGS_MANAGE = "settings.manage"
    USERS_MANAGE = "users.manage"
    CONVERSATIONS_LIST = "conversations.list"
    CONVERSATIONS_READ = "conversations.read"
    CONVERSATIONS_CORRECT = "conversations.correct"
    TRACKERS_MANAGE = "trackers.manage"
    PRIVACY_REQUESTS = "privacy.requests"
    CONSENT_VIEW = "consent.view"
    AUDIT_VIEW = "audit.view"


INSTALLER = "installer"
MANAGER = "manager"
AUDITOR = "auditor"
ROLES: tuple[str, ...] = (INSTALLER, MANAGER, AUDITOR)

ROLE_DESCRIPTIONS = {
    INSTALLER: "Sets up the gateway: badges, settings, accounts. Cannot read conversations.",
    MANAGER: "Reviews conversations, corrects tags, handles data-subject requests.",
    AUDITOR: "Reads and verifies the audit log and the consent ledger. Cannot read conversations.",
}

_P = Permission
GRANTS: dict[str, frozenset[Permission]] = {
    INSTALLER: frozenset({_P.HEALTH_VIEW, _P.BADGES_VIEW, _P.BADGES_MANAGE, _P.SETTINGS_MANAGE,
                          _P.USERS_MANAGE}),
    MANAGER: frozenset({_P.HEALTH_VIEW, _P.BADGES_VIEW, _P.CONVERSATIONS_LIST,
                        _P.CONVERSATIONS_READ, _P.CONVERSATIONS_CORRECT, _P.PRIVACY_REQUESTS,
                        _P.CONSENT_VIEW, _P.TRACKERS_MANAGE}),
    AUDITOR: frozenset({_P.HEALTH_VIEW, _P.CONSENT_VIEW, _P.AUDIT_VIEW}),
}


def can(role: str, permission: Permission) -> bool:
    """Whether ``role`` holds ``permission`` (unknown roles hold nothing)."""
    return permission in GRANTS.get(role, frozenset())
