"""Configuration: an optional digest.toml plus the environment, folded into one Config.

Only this module reads the environment. Everything else receives the Config object.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from digest.errors import ConfigError

PACKAGE_DIR = Path(__file__).resolve().parent
DEFAULT_TEMPLATES_DIR = PACKAGE_DIR.parent / "templates"
CONFIG_FILE_NAME = "digest.toml"
DEFAULT_DB = "digest.db"
OTHER = "Other"


@dataclass(frozen=True)
class Category:
    name: str
    aliases: tuple[str, ...] = ()
    description: str = ""


DEFAULT_CATEGORIES = (
    Category("News", ("Top stories", "World", "National"), "The main stories of the week."),
    Category("Politics", ("Government", "Elections"), "Parliament, government and elections."),
    Category("Business", ("Economy", "Markets", "Money"), "Companies, markets and the economy."),
    Category("Technology", ("Tech", "Science & Tech", "Sci-Tech"), "Gadgets, software and the people behind them."),
    Category("Health", ("Wellbeing", "Medicine"), "Medicine, fitness and public health."),
    Category("Travel", ("Trips", "Holidays"), "Places to go and how to get there."),
    Category("Education", ("Schools", "Universities"), "Schools, universities and learning."),
)


@dataclass(frozen=True)
class SmtpSettings:
    host: str = "localhost"
    port: int = 25
    tls: str = "none"  # none | starttls | ssl
    username: str | None = None
    password: str | None = None
    timeout: float = 30.0


@dataclass(frozen=True)
class DkimSettings:
    selector: str
    domain: str
    key_file: Path


@dataclass(frozen=True)
class Config:
    site_name: str = "The Weekly Digest"
    base_url: str = "http://127.0.0.1:8000"
    categories: tuple[Category, ...] = DEFAULT_CATEGORIES
    window_days: int = 7
    per_category: int = 5
    lede_max_chars: int = 300
    subject_template: str = "{site_name} — {date}"
    feeds: tuple[str, ...] = ()
    timezone: str = "UTC"
    schedule: str = "FREQ=WEEKLY;BYDAY=MO;BYHOUR=8;BYMINUTE=0"
    require_approval: bool = True
    accent_color: str = "#1a5fb4"
    # delivery
    from_name: str = "The Weekly Digest"
    from_address: str = "digest@example.com"
    reply_to: str | None = None
    list_id: str = "weekly-digest.example.com"
    feedback_id: str | None = None
    unsubscribe_mailto: str | None = None
    transport: str = "file:outbox"  # smtp | file:DIR
    smtp: SmtpSettings = field(default_factory=SmtpSettings)
    concurrency: int = 4
    rate: float | None = None
    max_attempts: int = 5
    dkim: DkimSettings | None = None
    secret_key: str | None = None
    confirm_days: int = 7
    # where things live
    db_path: Path = Path(DEFAULT_DB)
    templates_dir: Path = DEFAULT_TEMPLATES_DIR
    config_path: Path | None = None

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def category_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.categories)

    def canonical_category(self, label: str | None) -> str | None:
        """The configured category that `label` names or aliases (any case), else None."""
        if not label:
            return None
        wanted = " ".join(label.split()).casefold()
        for category in self.categories:
            if wanted == category.name.casefold() or wanted in (a.casefold() for a in category.aliases):
                return category.name
        return None

    def category_or_other(self, label: str | None) -> str | None:
        """Like canonical_category, but also accepts "Other" (any case), where ingest files
        what it cannot place; subscribers and previews cannot choose it."""
        if label and " ".join(label.split()).casefold() == OTHER.casefold():
            return OTHER
        return self.canonical_category(label)

    def with_overrides(self, **changes) -> "Config":
        return replace(self, **changes)


def find_config_file(explicit: str | None, environ: dict[str, str], must_exist: bool = True) -> Path | None:
    """--config, else DIGEST_CONFIG, else ./digest.toml if it exists."""
    chosen = explicit or environ.get("DIGEST_CONFIG")
    if chosen:
        path = Path(chosen)
        if must_exist and not path.is_file():
            raise ConfigError(f"config file {path} does not exist")
        return path
    local = Path(CONFIG_FILE_NAME)
    return local if local.is_file() else None


def load_config(
    config_file: str | None = None,
    db: str | None = None,
    environ: dict[str, str] | None = None,
    must_exist: bool = True,
) -> Config:
    """Build the Config from the file (if any), the environment and explicit options.

    With must_exist=False (for `digest init`) a named config file may be missing.
    """
    env = dict(os.environ if environ is None else environ)
    path = find_config_file(config_file, env, must_exist)
    data: dict = {}
    if path is not None and path.exists():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: {exc}") from None
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    config = _from_toml(data, path)
    return _apply_environment(config, env, db)


def _section(data: dict, name: str, path: Path | None) -> dict:
    value = data.get(name, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: [{name}] must be a table")
    return value


def _typed(section: dict, key: str, kind: type | tuple, where: str):
    value = section[key]
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        expected = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise ConfigError(f"{where}: {key} must be {expected}, not {value!r}")
    return value


# [section] key -> (Config field, TOML type)
SETTINGS: dict[str, dict[str, tuple[str, type]]] = {
    "site": {
        "name": ("site_name", str),
        "base_url": ("base_url", str),
        "timezone": ("timezone", str),
        "accent_color": ("accent_color", str),
        "templates_dir": ("templates_dir", str),
    },
    "edition": {
        "window_days": ("window_days", int),
        "per_category": ("per_category", int),
        "lede_max_chars": ("lede_max_chars", int),
        "subject": ("subject_template", str),
        "schedule": ("schedule", str),
        "require_approval": ("require_approval", bool),
    },
    "delivery": {
        "from_name": ("from_name", str),
        "from_address": ("from_address", str),
        "reply_to": ("reply_to", str),
        "list_id": ("list_id", str),
        "feedback_id": ("feedback_id", str),
        "unsubscribe_mailto": ("unsubscribe_mailto", str),
        "transport": ("transport", str),
        "concurrency": ("concurrency", int),
        "rate": ("rate", float),
        "max_attempts": ("max_attempts", int),
    },
    "web": {
        "secret_key": ("secret_key", str),
        "confirm_days": ("confirm_days", int),
    },
}


def _from_toml(data: dict, path: Path | None) -> Config:
    where = str(path or CONFIG_FILE_NAME)
    known_sections = {*SETTINGS, "categories", "feeds", "smtp", "dkim"}
    unknown = set(data) - known_sections
    if unknown:
        raise ConfigError(f"{where}: unknown section(s) {', '.join(sorted(unknown))}")
    changes: dict = {"config_path": path}
    for section_name, settings in SETTINGS.items():
        section = _section(data, section_name, path)
        for key in section:
            if key not in settings:
                raise ConfigError(f"{where}: unknown setting {key!r} in [{section_name}]")
            field_name, kind = settings[key]
            changes[field_name] = _typed(section, key, kind, f"{where} [{section_name}]")
    if "templates_dir" in changes:
        changes["templates_dir"] = _relative_to(path, changes["templates_dir"])
    if "categories" in data:
        changes["categories"] = _categories(data["categories"], where)
    if "feeds" in data:
        feeds = data["feeds"]
        urls = feeds.get("urls", []) if isinstance(feeds, dict) else feeds
        if not isinstance(urls, list) or not all(isinstance(u, str) for u in urls):
            raise ConfigError(f"{where}: feeds must be a list of URLs or paths")
        changes["feeds"] = tuple(urls)
    if "smtp" in data:
        changes["smtp"] = _smtp(_section(data, "smtp", path), where)
    if "dkim" in data:
        changes["dkim"] = _dkim(_section(data, "dkim", path), path, where)
    config = Config(**changes)
    _validate(config, where)
    return config


def _relative_to(config_path: Path | None, value: str) -> Path:
    candidate = Path(value)
    if not candidate.is_absolute() and config_path is not None:
        candidate = config_path.parent / candidate
    return candidate


def _categories(items, where: str) -> tuple[Category, ...]:
    if not isinstance(items, list) or not items:
        raise ConfigError(f"{where}: categories must be a non-empty array of tables ([[categories]])")
    result = []
    seen: set[str] = set()
    for number, item in enumerate(items, 1):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"].strip():
            raise ConfigError(f"{where}: category #{number} needs a name")
        aliases = item.get("aliases", [])
        if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
            raise ConfigError(f"{where}: aliases of category {item['name']!r} must be a list of strings")
        labels = [item["name"], *aliases]
        for label in labels:
            key = label.casefold()
            if key in seen:
                raise ConfigError(f"{where}: category label {label!r} is used twice")
            seen.add(key)
        result.append(Category(item["name"].strip(), tuple(aliases), str(item.get("description", ""))))
    return tuple(result)


def _smtp(section: dict, where: str) -> SmtpSettings:
    allowed = {"host": str, "port": int, "tls": str, "username": str, "timeout": float}
    values = {}
    for key in section:
        if key not in allowed:
            hint = " (the password comes from DIGEST_SMTP_PASSWORD)" if key == "password" else ""
            raise ConfigError(f"{where}: unknown setting {key!r} in [smtp]{hint}")
        values[key] = _typed(section, key, allowed[key], f"{where} [smtp]")
    if "port" not in values and values.get("tls") == "ssl":
        values["port"] = 465
    return SmtpSettings(**values)


def _dkim(section: dict, path: Path | None, where: str) -> DkimSettings:
    missing = [k for k in ("selector", "domain", "key_file") if not isinstance(section.get(k), str)]
    if missing:
        raise ConfigError(f"{where}: [dkim] needs {', '.join(missing)}")
    return DkimSettings(section["selector"], section["domain"], _relative_to(path, section["key_file"]))


def _validate(config: Config, where: str) -> None:
    try:
        ZoneInfo(config.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{where}: unknown timezone {config.timezone!r}") from None
    for name in ("window_days", "per_category", "lede_max_chars", "concurrency", "max_attempts"):
        if getattr(config, name) < 1:
            raise ConfigError(f"{where}: {name} must be at least 1")
    if config.smtp.tls not in ("none", "starttls", "ssl"):
        raise ConfigError(f"{where}: [smtp] tls must be none, starttls or ssl")


def _apply_environment(config: Config, env: dict[str, str], db: str | None) -> Config:
    changes: dict = {}
    db_path = db or env.get("DIGEST_DB")
    if db_path:
        changes["db_path"] = Path(db_path)
    elif config.config_path is not None:
        changes["db_path"] = config.config_path.parent / DEFAULT_DB
    if env.get("DIGEST_BASE_URL"):
        changes["base_url"] = env["DIGEST_BASE_URL"]
    if env.get("DIGEST_SECRET_KEY"):
        changes["secret_key"] = env["DIGEST_SECRET_KEY"]
    smtp = config.smtp
    if env.get("DIGEST_SMTP_URL"):
        smtp = parse_smtp_url(env["DIGEST_SMTP_URL"], smtp)
        changes["transport"] = "smtp"
    if env.get("DIGEST_SMTP_PASSWORD"):
        smtp = replace(smtp, password=env["DIGEST_SMTP_PASSWORD"])
    changes["smtp"] = smtp
    return replace(config, **changes)


def parse_smtp_url(url: str, base: SmtpSettings | None = None) -> SmtpSettings:
    """smtp://user@host:587?tls=starttls&timeout=10 (smtps:// means implicit TLS)."""
    from urllib.parse import parse_qs, unquote, urlsplit

    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ConfigError(f"SMTP URL {url!r} must look like smtp://user@host:587?tls=starttls")
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    tls = query.get("tls", "ssl" if parts.scheme == "smtps" else "none")
    if tls not in ("none", "starttls", "ssl"):
        raise ConfigError(f"SMTP URL {url!r}: tls must be none, starttls or ssl")
    try:
        port = parts.port or (465 if tls == "ssl" else 587 if tls == "starttls" else 25)
        timeout = float(query.get("timeout", (base or SmtpSettings()).timeout))
    except ValueError as exc:
        raise ConfigError(f"SMTP URL {url!r}: {exc}") from None
    return SmtpSettings(
        host=parts.hostname,
        port=port,
        tls=tls,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else (base.password if base else None),
        timeout=timeout,
    )
