"""The editors' live preview (`digest preview --serve`): a Flask blueprint and its own small app.

The page shows the email in a desktop and a 375px phone frame, the text part beside them,
subject, preheader, size, counts and warnings, with a picker for category sets and
subscribers. A tiny script polls /preview/version (a hash of the edition's build time and
the template files' modification times) and reloads when it changes. Only the email
itself may be framed, and only by this page's origin; it runs sandboxed, without scripts.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from flask import Blueprint, Flask, Response, current_app, g, jsonify, redirect, render_template, request, url_for
from jinja2 import FileSystemLoader, StrictUndefined

from digest.config import DEFAULT_TEMPLATES_DIR, Config
from digest.errors import DigestError, InputError, NotFound
from digest.render import Renderer
from digest.render.pipeline import HTML_TEMPLATE, TEXT_TEMPLATE
from digest.render.preview import GMAIL_CLIP_BYTES, Preview, make_preview, parse_category_list

LOOPBACK = ("127.0.0.1", "::1")
DEFAULT_PORT = 8001  # beside `digest serve`'s 8000
POLL_MS = 1500
SUBSCRIBERS_SUGGESTED = 50

# The page: scripts and styles only with this response's nonce, frames only from here,
# never framed itself.
PAGE_POLICY = ("default-src 'none'; style-src 'nonce-{nonce}'; script-src 'nonce-{nonce}'; connect-src 'self'; "
               "frame-src 'self'; img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
# The email: its own inline CSS, remote images, no scripts, framed by this origin only.
EMAIL_POLICY = ("default-src 'none'; style-src 'unsafe-inline'; img-src https: http: data:; base-uri 'none'; "
                "form-action 'none'; frame-ancestors 'self'; sandbox allow-popups allow-popups-to-escape-sandbox")
OTHER_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"


@dataclass
class PreviewState:
    """What the preview needs across requests; the Renderer is rebuilt when templates change."""

    config: Config
    store_path: Path
    edition_key: str | None = None  # None: the newest edition, whatever it is at each request
    lock: threading.Lock = field(default_factory=threading.Lock)
    _renderer: Renderer | None = None
    _stamp: tuple | None = None

    def template_stamp(self) -> tuple:
        stamps = []
        for path in (self.config.templates_dir / HTML_TEMPLATE, self.config.templates_dir / TEXT_TEMPLATE,
                     self.config.templates_dir / "web" / "preview.html", DEFAULT_TEMPLATES_DIR / "web" / "preview.html"):
            try:
                stat = path.stat()
                stamps.append((str(path), stat.st_mtime_ns, stat.st_size))
            except OSError:
                stamps.append((str(path), None, None))
        return tuple(stamps)

    def renderer(self) -> Renderer:
        """The Renderer for the templates as they are now (call with the lock held)."""
        stamp = self.template_stamp()
        if self._renderer is None or stamp != self._stamp:
            self._renderer = None
            self._stamp = stamp
            self._renderer = Renderer(self.config)  # may raise TemplateProblem; retried next time
        return self._renderer


def state() -> PreviewState:
    """This app's PreviewState; inside the preference-centre app it is made from its config."""
    found = current_app.extensions.get("digest_preview")
    if found is None:
        web = current_app.extensions["digest"]
        found = current_app.extensions.setdefault("digest_preview", PreviewState(web.config, Path(web.store_path)))
    return found


def get_store():
    if "preview_store" not in g:
        from digest.store import Store

        g.preview_store = Store(state().store_path)
    return g.preview_store


def make_blueprint() -> Blueprint:
    blueprint = Blueprint("preview", __name__, url_prefix="/preview")
    blueprint.before_request(_loopback_only)
    blueprint.after_request(_headers)
    blueprint.teardown_request(_close_store)
    blueprint.add_url_rule("/", "page", page)
    blueprint.add_url_rule("/email", "email", email)
    blueprint.add_url_rule("/version", "version", version)
    return blueprint


def __getattr__(name: str):
    # `from digest.web.preview import blueprint` gives each app a fresh Blueprint: Flask
    # refuses new before_request hooks on a blueprint already registered with another app.
    if name == "blueprint":
        return make_blueprint()
    raise AttributeError(name)


def create_preview_app(config: Config, store_path: Path | None = None, edition_key: str | None = None) -> Flask:
    """A Flask app serving only the preview (what `digest preview --serve` runs)."""
    app = Flask("digest.preview", static_folder=None, template_folder=None)
    app.jinja_options = {**app.jinja_options, "undefined": StrictUndefined, "trim_blocks": True, "lstrip_blocks": True}
    app.jinja_loader = FileSystemLoader([str(Path(config.templates_dir) / "web"), str(DEFAULT_TEMPLATES_DIR / "web")])
    app.extensions["digest_preview"] = PreviewState(config, Path(store_path or config.db_path), edition_key)
    app.register_blueprint(make_blueprint())
    app.add_url_rule("/", "home", lambda: redirect(url_for("preview.page")))
    return app


def serve_preview(config: Config, port: int = DEFAULT_PORT, edition_key: str | None = None,
                  say: Callable[[str], None] = print) -> None:
    """Run the preview under waitress on 127.0.0.1 until interrupted."""
    import waitress

    Renderer(config)  # a broken template is reported now, not as a blank page
    server = waitress.create_server(create_preview_app(config, edition_key=edition_key), host="127.0.0.1", port=port)
    say(f"Preview on http://127.0.0.1:{server.effective_port}/preview/ (reloads when the edition or templates "
        "change). Press Ctrl-C to stop.")
    try:
        server.run()
    finally:
        server.close()


# -- views ---------------------------------------------------------------------------------

@dataclass
class Choice:
    """What the picker asked for, read from the query string."""

    edition_key: str | None
    categories: tuple[str, ...] | None
    subscriber: str

    def query(self) -> dict:
        args = {"categories": list(self.categories or ()), "subscriber": self.subscriber or None}
        if self.edition_key:
            args["edition"] = self.edition_key
        return {k: v for k, v in args.items() if v}


def _choice() -> Choice:
    preview_state = state()
    categories = [c for c in request.args.getlist("categories") if c.strip()]
    subscriber = request.args.get("subscriber", "").strip()
    chosen = parse_category_list(preview_state.config, ",".join(categories)) if categories and not subscriber else None
    return Choice(request.args.get("edition") or preview_state.edition_key, chosen, subscriber)


def _render(choice: Choice) -> Preview:
    from digest.editions import get as get_edition

    preview_state = state()
    store = get_store()
    with preview_state.lock:
        renderer = preview_state.renderer()
        edition = get_edition(store, choice.edition_key, config=preview_state.config)
        return make_preview(store, preview_state.config, renderer, edition,
                            categories=choice.categories, email=choice.subscriber or None)


def page():
    preview_state = state()
    g.nonce = secrets.token_urlsafe(16)
    problem, status, preview, choice = None, 200, None, None
    try:
        choice = _choice()
        preview = _render(choice)
    except (InputError, NotFound) as exc:
        problem, status = str(exc), (404 if isinstance(exc, NotFound) else 400)
    except DigestError as exc:  # a broken template, a bad setting: show it, keep polling
        problem = str(exc)
    choice = choice or Choice(preview_state.edition_key, None, request.args.get("subscriber", ""))
    return render_template(
        "preview.html",
        nonce=g.nonce,
        preview=preview,
        problem=problem,
        is_template_problem=problem is not None and status == 200,
        choice=choice,
        category_names=preview_state.config.category_names,
        subscribers=_suggested_subscribers(),
        email_url=url_for("preview.email", **choice.query()),
        version=_version(choice.edition_key),
        version_url=url_for("preview.version", **({"edition": choice.edition_key} if choice.edition_key else {})),
        poll_ms=POLL_MS,
        clip_kb=GMAIL_CLIP_BYTES // 1000,
        too_big=preview is not None and preview.html_bytes > GMAIL_CLIP_BYTES,
        site_name=preview_state.config.site_name,
    ), status


def email():
    try:
        preview = _render(_choice())
    except DigestError as exc:
        return Response(f"Cannot show this email: {exc}", status=400, mimetype="text/plain")
    return Response(preview.html, mimetype="text/html")


def version():
    return jsonify(version=_version(request.args.get("edition") or state().edition_key))


def _version(edition_key: str | None) -> str:
    """Changes whenever the edition is rebuilt or changes status, or a template file changes."""
    store = get_store()
    edition = store.editions.get(edition_key) if edition_key else store.editions.newest()
    described = (edition.key, str(edition.built_at), edition.status) if edition else ("no edition",)
    return hashlib.sha256(repr((described, state().template_stamp())).encode()).hexdigest()[:16]


def _suggested_subscribers() -> list[str]:
    addresses = []
    for subscriber in get_store().subscribers.iter(status="active", batch=SUBSCRIBERS_SUGGESTED):
        addresses.append(subscriber.email)
        if len(addresses) >= SUBSCRIBERS_SUGGESTED:
            break
    return addresses


# -- request plumbing --------------------------------------------------------------------------

def _loopback_only():
    # The preview shows subscribers' addresses and working personal links: never beyond this machine.
    if request.remote_addr not in LOOPBACK or "X-Forwarded-For" in request.headers:
        return Response("The preview answers on 127.0.0.1 only.", status=404, mimetype="text/plain")
    return None


def _headers(response: Response) -> Response:
    if request.endpoint == "preview.page":
        response.headers["Content-Security-Policy"] = PAGE_POLICY.format(nonce=g.get("nonce", "none"))
        response.headers["X-Frame-Options"] = "DENY"
    elif request.endpoint == "preview.email":
        response.headers["Content-Security-Policy"] = EMAIL_POLICY
        response.headers["X-Frame-Options"] = "SAMEORIGIN"
    else:
        response.headers["Content-Security-Policy"] = OTHER_POLICY
        response.headers["X-Frame-Options"] = "DENY"
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"  # personal tokens live in the email's URLs
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _close_store(_exc):
    store = g.pop("preview_store", None)
    if store is not None:
        store.close()
