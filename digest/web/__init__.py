"""The preference centre as a Flask app: `create_app(config)` builds it, `serve` runs it.

A Store is opened per request (SQLite connections must not cross threads) and closed when
the request ends. Pages come from templates/web/ (the configured templates_dir first, so
editors may restyle them); the site colour reaches the pages through a generated
/static/site.css, because the Content-Security-Policy allows no inline styles.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Callable

from flask import Flask, Response, current_app, g, render_template, request, url_for
from jinja2 import FileSystemLoader, StrictUndefined
from werkzeug.exceptions import HTTPException

from digest.config import DEFAULT_TEMPLATES_DIR, Config
from digest.errors import ConfigError, DigestError, InputError
from digest.links import BadLink, ExpiredLink, Links
from digest.timeutil import utcnow
from digest.web.mailer import Mailer
from digest.web.security import Csrf, CsrfFailure, security_headers

COLOR = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
MAX_FORM_BYTES = 16 * 1024  # our forms are a few fields; refuse anything bigger early


@dataclass
class WebState:
    """What the views need, kept on app.extensions["digest"]."""

    config: Config
    links: Links
    store_path: Path
    mailer: Mailer
    clock: Callable[[], datetime]


def state() -> WebState:
    return current_app.extensions["digest"]


def get_store():
    """This request's Store, opened on first use and closed when the request ends."""
    if "store" not in g:
        from digest.store import Store

        g.store = Store(state().store_path)
    return g.store


def now() -> datetime:
    return state().clock()


class DigestFlask(Flask):
    def log_exception(self, exc_info) -> None:
        # Flask logs request.path, but our paths carry personal tokens that must not sit in logs.
        self.logger.error("Exception on %s [%s]", request.endpoint, request.method, exc_info=exc_info)


def create_app(config: Config, transport=None, store_path=None, *, clock: Callable[[], datetime] = utcnow,
               preview: bool = False) -> Flask:
    """The preference-centre app. `transport` sends the sign-up and lost-link emails
    (default: make_transport(config)); `preview=True` adds RENDER's local preview pages,
    which `serve` only allows on 127.0.0.1."""
    if not config.secret_key:
        raise ConfigError("no secret key: set DIGEST_SECRET_KEY (or secret_key in [web] of digest.toml)")
    if not COLOR.match(config.accent_color):
        raise ConfigError(f"accent_color {config.accent_color!r} must be a hex colour such as #1a5fb4")
    app = DigestFlask("digest.web", static_folder=None, template_folder=None)
    app.config.update(MAX_CONTENT_LENGTH=MAX_FORM_BYTES)
    app.jinja_options = {**app.jinja_options, "undefined": StrictUndefined, "trim_blocks": True, "lstrip_blocks": True}
    app.jinja_loader = FileSystemLoader([Path(config.templates_dir) / "web", DEFAULT_TEMPLATES_DIR / "web"])
    app.jinja_env.globals.update(site_name=config.site_name, confirm_days=config.confirm_days)
    app.extensions["digest"] = WebState(
        config=config,
        links=Links.from_config(config),
        store_path=Path(store_path or config.db_path),
        mailer=Mailer(config, transport),
        clock=clock,
    )
    Csrf(config.secret_key, secure_cookie=config.base_url.startswith("https:")).init_app(app)

    @app.teardown_appcontext
    def close_store(_exc):
        store = g.pop("store", None)
        if store is not None:
            store.close()

    @app.route("/static/site.css")
    def site_css():
        response = Response(render_template("site.css", **colours(config.accent_color)), mimetype="text/css")
        response.headers["Cache-Control"] = "public, max-age=3600"
        return response

    from digest.web.preferences import blueprint as preferences
    from digest.web.signup import blueprint as signup

    app.register_blueprint(preferences)
    app.register_blueprint(signup)
    preview_name = register_preview(app) if preview else None

    @app.after_request
    def headers(response):
        return security_headers(response, preview=preview_name is not None and request.blueprint == preview_name)

    register_error_pages(app)
    return app


def register_preview(app: Flask) -> str:
    """Mount RENDER's preview blueprint; it answers loopback clients only and sets its own
    headers (it frames the email it shows)."""
    from digest.web.preview import blueprint

    app.register_blueprint(blueprint)
    return blueprint.name


def colours(accent: str) -> dict[str, str]:
    """The accent and a text colour that stays readable on it (WCAG relative luminance)."""
    hex_digits = accent[1:]
    if len(hex_digits) == 3:
        hex_digits = "".join(d * 2 for d in hex_digits)
    channels = [int(hex_digits[i:i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    luminance = 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    # Contrast with white is 1.05/(L+0.05), with near-black (#111, L≈0.0056) (L+0.05)/0.0556.
    on_accent = "#ffffff" if 1.05 / (luminance + 0.05) >= (luminance + 0.05) / 0.0556 else "#111111"
    return {"accent": "#" + hex_digits.lower(), "on_accent": on_accent}


def message_page(title: str, text: str, status: int = 200, action: tuple[str, str] | None = None):
    """A plain page with a heading, a sentence and at most one link onwards."""
    return render_template("message.html", title=title, text=text, action=action), status


def register_error_pages(app: Flask) -> None:
    @app.errorhandler(ExpiredLink)
    def expired(_exc):
        return render_template("expired.html"), 400

    @app.errorhandler(BadLink)
    def bad_link(_exc):
        return message_page(
            "This link does not work",
            "The link may have been cut short when it was copied, or replaced by a newer one. "
            "You can ask for a fresh link to your preferences.",
            400, (url_for("signup.lost"), "Email me a new link"),
        )

    @app.errorhandler(CsrfFailure)
    def csrf_failure(_exc):
        return message_page(
            "Please try that again",
            "The form could not be accepted: it was open for too long, or your browser did not send "
            "this site's cookie. Go back, reload the page and send it again.",
            400,
        )

    @app.errorhandler(InputError)
    def input_error(exc):
        return message_page("That did not work", str(exc), 400)

    @app.errorhandler(HTTPException)
    def http_error(exc):
        # Unexpected exceptions arrive here as a 500 (and are logged by Flask first).
        if exc.code == 404:
            return message_page("Page not found", "There is no page at this address.", 404)
        if exc.code and exc.code < 500:
            return message_page(exc.name, exc.description or "", exc.code)
        return message_page("Something went wrong", "Please try again in a few minutes.", exc.code or 500)

    @app.errorhandler(DigestError)
    def digest_error(exc):
        # The endpoint, not the path: paths carry personal tokens that must not sit in logs.
        current_app.logger.error("%s on %s: %s", type(exc).__name__, request.endpoint, exc)
        return message_page("Something went wrong", "Please try again in a few minutes.", 500)


def serve(config: Config, host: str = "127.0.0.1", port: int = 8000, dev: bool = False, preview: bool = False,
          say: Callable[[str], None] = print, threads: int = 4) -> None:
    """Run the app under waitress until interrupted. --dev makes up a throwaway secret key."""
    import waitress

    if not config.secret_key:
        if not dev:
            raise ConfigError(
                "no secret key: set DIGEST_SECRET_KEY or secret_key in [web] of digest.toml "
                "(or run `digest serve --dev` to try it with a throwaway key)"
            )
        config = config.with_overrides(secret_key=secrets.token_urlsafe(32))
        say("--dev: using a throwaway secret key; links signed with it stop working when the server stops.")
    if preview and host != "127.0.0.1":
        raise ConfigError("--preview is only served on 127.0.0.1 (drop --host or the --preview flag)")
    app = create_app(config, preview=preview)
    server = waitress.create_server(app, host=host, port=port, threads=threads)
    say(f"Serving {config.site_name} on http://{host}:{server.effective_port}/ (links use {config.base_url}). "
        "Press Ctrl-C to stop.")
    try:
        server.run()
    finally:
        server.close()
        app.extensions["digest"].mailer.close()
