"""The governance admin: reviewers decide publications here and read reports and the audit log."""

from governance.admin import access, audit, policies, publication, reports  # noqa: F401
