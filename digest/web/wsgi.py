"""WSGI entry for gunicorn and friends: `gunicorn digest.web.wsgi:app`.

The app is built from load_config(): $DIGEST_CONFIG (or ./digest.toml) plus the
environment, so DIGEST_SECRET_KEY and DIGEST_BASE_URL set the signing key and the public
address used in links. The editors' preview is never mounted here.
"""

from digest.config import load_config
from digest.web import create_app

app = create_app(load_config())
