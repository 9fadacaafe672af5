"""digest: build a weekly newsletter digest from a newsroom's articles and send it."""

__version__ = "0.1.0"
