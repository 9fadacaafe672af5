"""Email address checks: syntax only (email-validator), no DNS."""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email

from digest.errors import InputError


def normalise_email(text: str) -> str:
    """The address in the form we store and compare; raises InputError when it is not one."""
    try:
        result = validate_email(text.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise InputError(f"{text.strip()!r} is not a valid email address: {exc}") from None
    # Domains are case-insensitive; local parts technically are not, but every real
    # mailbox provider treats them so, and duplicates by case confuse subscribers.
    return result.normalized.lower()
