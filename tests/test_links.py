"""Signed personal links: what they carry, and what makes them fail."""

import random
import string

import pytest
from itsdangerous import URLSafeSerializer

from digest.links import BadLink, Links
from digest.models import Subscriber

READER = Subscriber(email="ann@example.com", id=7, token_version=3)


def test_each_link_loads_back_to_its_subscriber_version_and_category():
    links = Links("key", "https://news.example.com/")
    assert links.preferences_url(READER).startswith("https://news.example.com/p/")
    data = links.load("category", links.token("category", READER, "Travel"))
    assert (data.subscriber_id, data.version, data.category) == (7, 3, "Travel")


def test_a_token_cannot_be_replayed_for_another_purpose_or_under_another_key():
    links = Links("key", "https://news.example.com")
    token = links.token("preferences", READER)
    with pytest.raises(BadLink):
        links.load("unsubscribe", token)
    with pytest.raises(BadLink):
        Links("other-key", "https://news.example.com").load("preferences", token)
    with pytest.raises(BadLink):
        links.load("preferences", token[:-2])


def test_fast_tokens_are_the_ones_itsdangerous_writes_and_reads():
    """Links.token skips itsdangerous's dumps for speed; the format must stay its format."""
    links = Links("key", "https://news.example.com")
    rng = random.Random(4)
    for _ in range(500):
        reader = Subscriber(email="x@example.com", id=rng.randrange(1, 10**7), token_version=rng.randrange(1, 50))
        category = "".join(rng.choices(string.ascii_letters + "é &", k=rng.randrange(1, 12)))
        token = links.token("category", reader, category)
        reference = URLSafeSerializer("key", salt="digest.category")
        assert reference.loads(token) == [reader.id, reader.token_version, category]
        assert token == reference.dumps([reader.id, reader.token_version, category])


def test_no_secret_key_is_a_configuration_error():
    from digest.errors import ConfigError

    with pytest.raises(ConfigError, match="DIGEST_SECRET_KEY"):
        Links(None, "https://news.example.com")
