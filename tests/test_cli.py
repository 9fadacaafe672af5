"""The CLI as a whole: every command documented with an example; init."""

import click

from digest.cli import main
from digest.config import load_config


def all_commands(group: click.Group, prefix=()):
    for name, command in group.commands.items():
        yield (*prefix, name), command
        if isinstance(command, click.Group):
            yield from all_commands(command, (*prefix, name))


def test_every_command_has_help_ending_with_an_example():
    missing = [" ".join(path) for path, command in all_commands(main)
               if "Example" not in (command.help or "")]
    assert missing == []


def test_the_core_commands_exist():
    names = set(main.commands)
    assert {"init", "ingest", "articles", "build", "drop", "undrop", "lede", "preview"} <= names


def test_init_writes_a_config_with_a_fresh_secret_and_creates_the_schema(cli, tmp_path):
    result = cli("init")
    assert result.exit_code == 0, result.output
    config = load_config(str(tmp_path / "digest.toml"), environ={})
    assert config.secret_key and len(config.secret_key) >= 32
    assert (tmp_path / "digest.db").exists()
    first_secret = config.secret_key
    assert cli("init").exit_code == 0  # keeps an existing file
    assert load_config(str(tmp_path / "digest.toml"), environ={}).secret_key == first_secret


def test_a_missing_config_file_is_a_clear_error(cli):
    result = cli("--config", "nope.toml", "articles")
    assert result.exit_code == 1
    assert "nope.toml does not exist" in result.output
