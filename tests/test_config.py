from pathlib import Path

import pytest

from digest.config import Config, load_config, parse_smtp_url
from digest.errors import ConfigError
from digest.settings_file import commented_config


def test_defaults_work_without_any_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = load_config(environ={})
    assert config.category_names == ("News", "Politics", "Business", "Technology", "Health", "Travel", "Education")
    assert config.db_path == Path("digest.db")
    assert config.per_category == 5 and config.window_days == 7 and config.lede_max_chars == 300


def test_aliases_map_case_insensitively():
    config = Config()
    assert config.canonical_category("tech") == "Technology"
    assert config.canonical_category("  TECHNOLOGY ") == "Technology"
    assert config.canonical_category("Gardening") is None


def test_config_is_found_by_flag_then_environment_then_current_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "digest.toml").write_text('[site]\nname = "Local"\n')
    (tmp_path / "env.toml").write_text('[site]\nname = "From env"\n')
    (tmp_path / "flag.toml").write_text('[site]\nname = "From flag"\n')
    assert load_config(environ={}).site_name == "Local"
    assert load_config(environ={"DIGEST_CONFIG": "env.toml"}).site_name == "From env"
    assert load_config("flag.toml", environ={"DIGEST_CONFIG": "env.toml"}).site_name == "From flag"


def test_database_comes_from_flag_then_environment_then_beside_the_config(tmp_path):
    path = tmp_path / "digest.toml"
    path.write_text("")
    assert load_config(str(path), environ={}).db_path == tmp_path / "digest.db"
    assert load_config(str(path), environ={"DIGEST_DB": "/x/env.db"}).db_path == Path("/x/env.db")
    assert load_config(str(path), "flag.db", environ={"DIGEST_DB": "/x/env.db"}).db_path == Path("flag.db")


def test_secrets_and_smtp_come_from_the_environment(tmp_path):
    env = {
        "DIGEST_SECRET_KEY": "s3cret",
        "DIGEST_SMTP_URL": "smtp://mailer@mail.example.com:2525?tls=starttls",
        "DIGEST_SMTP_PASSWORD": "pw",
        "DIGEST_BASE_URL": "https://news.example.com",
    }
    config = load_config(environ=env)
    assert config.secret_key == "s3cret"
    assert config.base_url == "https://news.example.com"
    assert config.transport == "smtp"
    assert (config.smtp.host, config.smtp.port, config.smtp.tls) == ("mail.example.com", 2525, "starttls")
    assert (config.smtp.username, config.smtp.password) == ("mailer", "pw")


@pytest.mark.parametrize(
    "toml, message",
    [
        ("[site]\nnmae = 'x'\n", "unknown setting 'nmae' in [site]"),
        ("[edition]\nper_category = 'five'\n", "per_category must be int"),
        ("[edition]\nper_category = 0\n", "per_category must be at least 1"),
        ("[site]\ntimezone = 'Mars/Olympus'\n", "unknown timezone"),
        ("[smtp]\npassword = 'x'\n", "DIGEST_SMTP_PASSWORD"),
        ("[[categories]]\nname = 'A'\naliases = ['a']\n", "used twice"),
        ("[site\n", "digest.toml"),
    ],
)
def test_bad_config_names_the_file_and_the_problem(tmp_path, toml, message):
    path = tmp_path / "digest.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_config(str(path), environ={})


def test_a_named_config_file_must_exist(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(str(tmp_path / "missing.toml"), environ={})


def test_smtp_url_rejects_other_schemes():
    with pytest.raises(ConfigError):
        parse_smtp_url("http://mail.example.com")
    assert parse_smtp_url("smtps://mail.example.com").port == 465


def test_written_config_loads_back_with_the_same_settings(tmp_path):
    path = tmp_path / "digest.toml"
    path.write_text(commented_config(secret_key="k"))
    config = load_config(str(path), environ={})
    assert config.secret_key == "k"
    assert config.categories == Config().categories
    assert config.subject_template == Config().subject_template


def test_categories_and_feeds_are_configurable(tmp_path):
    path = tmp_path / "digest.toml"
    path.write_text(
        '[feeds]\nurls = ["https://a.example/feed.xml"]\n'
        '[[categories]]\nname = "Sport"\naliases = ["Sports"]\n'
        '[[categories]]\nname = "Culture"\n'
    )
    config = load_config(str(path), environ={})
    assert config.category_names == ("Sport", "Culture")
    assert config.canonical_category("sports") == "Sport"
    assert config.feeds == ("https://a.example/feed.xml",)
