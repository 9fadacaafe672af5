"""The commented digest.toml that `digest init` writes."""

from __future__ import annotations

import json

from digest.config import Config

TEMPLATE = '''# digest.toml: settings for the weekly digest. Every setting has a default;
# delete a line to use it. Secrets may also come from the environment:
# DIGEST_SECRET_KEY, DIGEST_SMTP_PASSWORD, DIGEST_SMTP_URL, DIGEST_BASE_URL.

[site]
name = "{site_name}"
# Public address of `digest serve`; links in every email start with it.
base_url = "{base_url}"
timezone = "{timezone}"
accent_color = "{accent_color}"

[edition]
# Articles published within this many days before the build (for the first edition;
# later editions start where the previous one ended).
window_days = {window_days}
per_category = {per_category}
lede_max_chars = {lede_max_chars}
# {{site_name}} and {{date}} (the edition date, e.g. 25 Nov 2026) are filled in.
subject = "{subject_template}"
# When `digest run` builds the next edition (an RFC 5545 RRULE in the timezone above).
schedule = "{schedule}"
# Editors run `digest approve` before cron sends; false lets cron send at once.
require_approval = {require_approval}

[delivery]
from_name = "{from_name}"
from_address = "{from_address}"
list_id = "{list_id}"
# reply_to = "editors@example.com"
# feedback_id = "weekly:digest:example"
# unsubscribe_mailto = "unsubscribe@example.com"
# "smtp" (see [smtp]) or "file:DIR" (writes .eml files, for trying things out).
transport = "{transport}"
concurrency = {concurrency}
# rate = 50   # messages per second across all connections
max_attempts = {max_attempts}

[smtp]
host = "{smtp_host}"
port = {smtp_port}
tls = "{smtp_tls}"   # none | starttls | ssl
# username = "digest"   # the password comes from DIGEST_SMTP_PASSWORD

# [dkim]
# selector = "digest"
# domain = "example.com"
# key_file = "dkim.key"

[web]
# Signs the links in every email. Keep it secret; changing it breaks every link sent.
secret_key = "{secret_key}"
confirm_days = {confirm_days}

[feeds]
# RSS/Atom/JSON feeds or files that `digest ingest` and `digest run` read.
urls = []

# Categories in display order. Aliases map the labels feeds use onto these names.
{categories}'''


def commented_config(secret_key: str, config: Config | None = None) -> str:
    config = config or Config()
    categories = "\n".join(
        f"[[categories]]\nname = {_quoted(c.name)}\n"
        f"aliases = [{', '.join(_quoted(a) for a in c.aliases)}]\n"
        f"description = {_quoted(c.description)}\n"
        for c in config.categories
    )
    return TEMPLATE.format(
        site_name=config.site_name, base_url=config.base_url, timezone=config.timezone,
        accent_color=config.accent_color, window_days=config.window_days,
        per_category=config.per_category, lede_max_chars=config.lede_max_chars,
        subject_template=config.subject_template, schedule=config.schedule,
        require_approval=str(config.require_approval).lower(), from_name=config.from_name,
        from_address=config.from_address, list_id=config.list_id, transport=config.transport,
        concurrency=config.concurrency, max_attempts=config.max_attempts,
        smtp_host=config.smtp.host, smtp_port=config.smtp.port, smtp_tls=config.smtp.tls,
        secret_key=secret_key, confirm_days=config.confirm_days, categories=categories,
    )


def _quoted(text: str) -> str:
    """A TOML basic string (its escapes are JSON's for the characters we write)."""
    return json.dumps(text, ensure_ascii=False)
