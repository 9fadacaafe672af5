"""Response headers and CSRF protection for the web pages.

CSRF uses a signed double-submit token, written here in a few lines with itsdangerous
rather than pulling in Flask-WTF (which brings WTForms and server sessions we do not need):
a random nonce lives in a cookie, and each form carries the nonce signed together with the
path the form posts to. A forged form needs both the victim's cookie and our secret key.
Tokens are bound to their action path, so a token for the public sign-up form cannot be
replayed against a personal /p/<token> page.
"""

from __future__ import annotations

import re
import secrets

from flask import Flask, g, request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from markupsafe import Markup, escape

from digest.errors import DigestError

CSRF_COOKIE = "digest_csrf"
CSRF_FIELD = "csrf_token"
CSRF_MAX_AGE = 24 * 3600  # a preferences page left open over a day must be reloaded
NONCE_SHAPE = re.compile(r"^[A-Za-z0-9_-]{22,64}$")

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)

class CsrfFailure(DigestError):
    """A form post without a matching, fresh CSRF token."""


def is_one_click_unsubscribe() -> bool:
    """RFC 8058: a mail client's POST of `List-Unsubscribe=One-Click` to the unsubscribe URL."""
    return (
        request.method == "POST"
        and request.endpoint == "preferences.unsubscribe"
        and request.form.get("List-Unsubscribe") == "One-Click"
    )


class Csrf:
    def __init__(self, secret_key: str, secure_cookie: bool):
        self._signer = URLSafeTimedSerializer(secret_key, salt="digest.csrf")
        self.secure_cookie = secure_cookie

    def init_app(self, app: Flask) -> None:
        app.before_request(self.protect)
        app.after_request(self.set_cookie)
        app.jinja_env.globals["csrf_field"] = self.field

    def _nonce(self) -> str:
        if "csrf_nonce" not in g:
            cookie = request.cookies.get(CSRF_COOKIE, "")
            if NONCE_SHAPE.match(cookie):
                g.csrf_nonce = cookie
            else:
                g.csrf_nonce = secrets.token_urlsafe(24)
                g.csrf_new_nonce = True
        return g.csrf_nonce

    def token(self, action: str) -> str:
        return self._signer.dumps([self._nonce(), action])

    def field(self, action: str) -> Markup:
        """The hidden input for a form that posts to `action` (a url_for path on this site)."""
        return Markup('<input type="hidden" name="{}" value="{}">').format(CSRF_FIELD, escape(self.token(action)))

    def protect(self) -> None:
        """Refuse every POST without a valid token, except the RFC 8058 one-click unsubscribe."""
        if request.method != "POST" or is_one_click_unsubscribe():
            return
        cookie = request.cookies.get(CSRF_COOKIE, "")
        sent = request.form.get(CSRF_FIELD, "")
        try:
            nonce, action = self._signer.loads(sent, max_age=CSRF_MAX_AGE)
        except (BadSignature, ValueError, TypeError):
            raise CsrfFailure("the form's security token is missing, out of date or not ours") from None
        if not (cookie and secrets.compare_digest(str(nonce), cookie) and action == request.script_root + request.path):
            raise CsrfFailure("the form's security token does not match this browser or this page")

    def set_cookie(self, response):
        if g.get("csrf_new_nonce"):
            response.set_cookie(
                CSRF_COOKIE, g.csrf_nonce, max_age=CSRF_MAX_AGE, httponly=True,
                secure=self.secure_cookie, samesite="Lax", path=request.script_root or "/",
            )
        return response


def security_headers(response, preview: bool = False):
    """Headers on every response: no framing, no sniffing, no referrer (tokens live in URLs).

    The local preview (preview=True) sets its own policy, since it frames the email it shows;
    there these are only defaults."""
    strict = {
        "Content-Security-Policy": CONTENT_SECURITY_POLICY,
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }
    for name, value in strict.items():
        if preview:
            response.headers.setdefault(name, value)
        else:
            response.headers[name] = value
    response.headers.setdefault("Cache-Control", "no-store")  # personal pages must not sit in shared caches
    return response
