"""`digest serve` (waitress), its refusal without a secret key, and the WSGI entry for gunicorn."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import urllib.request

from conftest import NOW
from digest import subscribers as service
from digest.links import Links
from digest.web import create_app
from web_support import csrf_token, form_with, transport  # noqa: F401


def test_serve_refuses_to_start_without_a_secret_key(cli):
    result = cli("serve")
    assert result.exit_code == 1
    assert "no secret key" in result.output and "--dev" in result.output


def test_serve_will_not_put_the_preview_on_a_public_address(cli):
    result = cli("serve", "--preview", "--host", "0.0.0.0", env={"DIGEST_SECRET_KEY": "k"})
    assert result.exit_code == 1
    assert "--preview is only served on 127.0.0.1" in result.output


def test_serve_dev_makes_up_a_key_says_so_and_answers_on_loopback(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    server = subprocess.Popen(
        [sys.executable, "-u", "-m", "digest", "serve", "--dev", "--port", "0"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        lines = []
        for line in server.stdout:
            lines.append(line)
            if line.startswith("Serving"):
                break
        output = "".join(lines)
        assert "--dev: using a throwaway secret key" in output
        address = output.split(" on ", 1)[1].split("/ ", 1)[0]
        assert address.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(f"{address}/subscribe") as response:
            assert response.status == 200
            assert response.headers["X-Frame-Options"] == "DENY"
            assert b"Subscribe to The Weekly Digest" in response.read()
    finally:
        server.terminate()
        server.wait()


def test_the_wsgi_entry_builds_the_app_from_the_config_file_and_environment(write_config, monkeypatch, tmp_path):
    path = write_config('[site]\nname = "Harbour News"\n')
    monkeypatch.setenv("DIGEST_CONFIG", str(path))
    monkeypatch.setenv("DIGEST_BASE_URL", "https://news.harbour.example")
    monkeypatch.setenv("DIGEST_SECRET_KEY", "from-the-environment")
    monkeypatch.delitem(sys.modules, "digest.web.wsgi", raising=False)
    wsgi = importlib.import_module("digest.web.wsgi")
    state = wsgi.app.extensions["digest"]
    assert state.config.secret_key == "from-the-environment"
    assert state.links.base_url == "https://news.harbour.example"
    assert state.store_path == tmp_path / "digest.db"
    client = wsgi.app.test_client()
    assert "Harbour News" in client.get("/subscribe").get_data(as_text=True)
    # The whole round trip works, store included: a lost-link request for nobody.
    response = client.post("/lost", data={"email": "nobody@example.com", "csrf_token": csrf_token(client, "/lost")})
    assert response.status_code == 200
    assert not any(rule.rule.startswith("/preview") for rule in wsgi.app.url_map.iter_rules())


def test_the_preview_is_mounted_only_when_asked_and_only_answers_loopback(config, store, transport):
    assert create_app(config, transport=transport).test_client().get("/preview/version").status_code == 404
    client = create_app(config, transport=transport, preview=True).test_client()
    local = client.get("/preview/version")  # the test client comes from 127.0.0.1
    assert local.status_code == 200 and "version" in local.get_json()
    assert client.get("/preview/version", environ_base={"REMOTE_ADDR": "203.0.113.9"}).status_code == 404
    assert client.get("/preview/version", headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 404
    # The preview keeps its own policy (it frames the email); the preference pages keep theirs.
    page_policy = client.get("/preview/").headers["Content-Security-Policy"]
    assert "script-src 'nonce-" in page_policy and "frame-src 'self'" in page_policy
    assert client.get("/subscribe").headers["Content-Security-Policy"].endswith("frame-ancestors 'none'; base-uri 'none'")


def test_pages_work_under_a_path_prefix_as_behind_a_proxy(config, store, transport):
    """base_url https://news.example.com/newsletter: the proxy passes /newsletter as SCRIPT_NAME."""
    alice = service.add(store, config, "alice@example.com", "", "News", NOW)
    client = create_app(config, transport=transport).test_client()
    prefix = "http://localhost/newsletter/"
    html = client.get(f"/p/{Links.from_config(config).token('preferences', alice)}", base_url=prefix).get_data(as_text=True)
    assert '<link rel="stylesheet" href="/newsletter/static/site.css">' in html
    action, hidden = form_with(html, "Save my choices")
    assert action.startswith("/newsletter/p/")
    response = client.post(action.removeprefix("/newsletter"), base_url=prefix,
                           data={**hidden, "category": ["Travel"]})
    assert response.status_code == 303 and response.headers["Location"].startswith("/newsletter/p/")
    assert store.subscribers.get(alice.id).categories == ("Travel",)
