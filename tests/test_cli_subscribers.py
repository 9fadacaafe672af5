"""`digest subscribers ...` end to end: CliRunner over a real SQLite file in tmp_path."""

from __future__ import annotations

import json
from datetime import timedelta

from conftest import DATA, NOW

from digest.cli.subscribers import subscribers
from digest.links import Links
from digest.subscribers import sign_up

FILES = DATA / "subscribers"


def kinds_and_origins(store, email):
    subscriber = store.subscribers.by_email(email)
    return [(e["kind"], e["origin"]) for e in store.events.for_subscriber(subscriber.id)]


def test_import_reports_counts_and_applies(cli, store):
    result = cli("subscribers", "import", FILES / "good.csv")
    assert result.exit_code == 0, result.output
    assert "3 new, 0 updated, 0 unchanged, 0 kept unsubscribed, 0 rejected" in result.output
    assert store.subscribers.count("active") == 3


def test_import_with_a_bad_row_applies_nothing_and_exits_1(cli, store):
    result = cli("subscribers", "import", FILES / "bad_rows.csv")
    assert result.exit_code == 1
    assert "line 3: 'not-an-address' is not a valid email address" in result.output
    assert "line 5: maya.ishikawa@example.com is already on line 2" in result.output
    assert "Error: 4 row(s) rejected" in result.output
    assert "Traceback" not in result.output
    assert store.subscribers.count() == 0


def test_import_skip_invalid_applies_the_good_rows_and_exits_0(cli, store):
    result = cli("subscribers", "import", "--skip-invalid", FILES / "bad_rows.csv")
    assert result.exit_code == 0, result.output
    assert "2 new" in result.output and "4 rejected" in result.output
    assert store.subscribers.count() == 2


def test_import_dry_run_writes_nothing(cli, store):
    result = cli("subscribers", "import", "--dry-run", FILES / "good.csv")
    assert result.exit_code == 0, result.output
    assert "3 new" in result.output and "dry run: nothing written" in result.output
    assert store.subscribers.count() == 0


def test_import_of_a_missing_file_is_one_line_and_exit_1(cli):
    result = cli("subscribers", "import", "missing.csv")
    assert result.exit_code == 1
    assert result.output.strip() == "Error: missing.csv: cannot read: No such file or directory"


def test_import_keeps_unsubscribed_unless_resubscribe(cli, store):
    cli("subscribers", "import", FILES / "good.csv")
    cli("subscribers", "remove", "maya.ishikawa@example.com")
    kept = cli("subscribers", "import", FILES / "good.csv")
    assert "maya.ishikawa@example.com kept unsubscribed" in kept.output
    assert store.subscribers.by_email("maya.ishikawa@example.com").status == "unsubscribed"
    back = cli("subscribers", "import", "--resubscribe", FILES / "good.csv")
    assert back.exit_code == 0 and "1 updated" in back.output
    assert store.subscribers.by_email("maya.ishikawa@example.com").status == "active"


def test_export_to_stdout_and_file_round_trips_unchanged(cli, tmp_path):
    cli("subscribers", "import", FILES / "good.csv")
    stdout = cli("subscribers", "export")
    assert stdout.exit_code == 0
    assert stdout.output.splitlines()[0] == "email,name,categories"
    assert "tom.brennan@example.org,\"Brennan, Tom\",Technology" in stdout.output
    assert cli("subscribers", "export", "backup.csv").exit_code == 0
    assert (tmp_path / "backup.csv").read_text(encoding="utf-8") == stdout.output
    again = cli("subscribers", "import", "backup.csv")
    assert "0 new, 0 updated, 3 unchanged, 0 kept unsubscribed, 0 rejected" in again.output


def test_list_json_gives_names_categories_as_lists_and_status(cli):
    cli("subscribers", "import", FILES / "good.csv")
    cli("subscribers", "remove", "rosa.delgado@example.com")
    result = cli("subscribers", "list", "--json")
    assert result.exit_code == 0, result.output
    listed = {item["email"]: item for item in json.loads(result.output)}
    assert listed["tom.brennan@example.org"]["name"] == "Brennan, Tom"
    assert listed["tom.brennan@example.org"]["categories"] == ["Technology"]
    assert listed["maya.ishikawa@example.com"]["categories"] == ["News", "Travel"]
    assert listed["rosa.delgado@example.com"]["categories"] == []  # all
    assert listed["rosa.delgado@example.com"]["status"] == "unsubscribed"
    only_active = json.loads(cli("subscribers", "list", "--json", "--status", "active").output)
    assert sorted(item["email"] for item in only_active) == ["maya.ishikawa@example.com", "tom.brennan@example.org"]


def test_list_json_of_nobody_is_an_empty_list(cli):
    assert json.loads(cli("subscribers", "list", "--json").output) == []


def test_list_with_an_unknown_status_is_a_clear_error(cli):
    result = cli("subscribers", "list", "--status", "gone")
    assert result.exit_code != 0
    assert "'gone' is not one of 'active', 'unsubscribed', 'bounced', 'pending'" in result.output


def test_add_set_remove_record_cli_events(cli, store):
    added = cli("subscribers", "add", "Ada@Example.com", "--name", "Ada", "--categories", "tech;TRIPS")
    assert added.exit_code == 0, added.output
    ada = store.subscribers.by_email("ada@example.com")
    assert (ada.name, ada.categories, ada.status) == ("Ada", ("Technology", "Travel"), "active")
    assert cli("subscribers", "set", "ada@example.com", "--categories", "News").exit_code == 0
    assert store.subscribers.by_email("ada@example.com").categories == ("News",)
    assert cli("subscribers", "remove", "ada@example.com").exit_code == 0
    assert store.subscribers.by_email("ada@example.com").status == "unsubscribed"
    assert kinds_and_origins(store, "ada@example.com") == [
        ("subscribed", "cli"), ("categories", "cli"), ("unsubscribed", "cli")]


def test_add_with_an_unknown_category_names_it_and_adds_nothing(cli, store):
    result = cli("subscribers", "add", "ada@example.com", "--categories", "News;Sport")
    assert result.exit_code == 1
    assert "Error: unknown category 'Sport'" in result.output
    assert store.subscribers.count() == 0


def test_set_on_an_unknown_address_is_not_found(cli):
    result = cli("subscribers", "set", "nobody@example.com", "--categories", "News")
    assert result.exit_code == 1
    assert result.output.strip() == "Error: nobody@example.com is not a subscriber"


def test_remove_forget_deletes_the_row_and_its_events(cli, store):
    cli("subscribers", "add", "ada@example.com")
    ada_id = store.subscribers.by_email("ada@example.com").id
    result = cli("subscribers", "remove", "--forget", "ada@example.com")
    assert result.exit_code == 0, result.output
    assert store.subscribers.by_email("ada@example.com") is None
    assert store.execute("SELECT count(*) FROM events WHERE subscriber_id = ?", (ada_id,)).fetchone()[0] == 0


def test_rotate_bumps_the_version_so_old_links_no_longer_match(cli, store, config):
    cli("subscribers", "add", "ada@example.com")
    links = Links.from_config(config)
    before = store.subscribers.by_email("ada@example.com")
    old_token = links.token("unsubscribe", before)
    result = cli("subscribers", "rotate", "ada@example.com")
    assert result.exit_code == 0, result.output
    after = store.subscribers.by_email("ada@example.com")
    assert after.token_version == before.token_version + 1
    assert links.load("unsubscribe", old_token).version != after.token_version
    assert kinds_and_origins(store, "ada@example.com")[-1] == ("rotated", "cli")


def test_cleanup_deletes_unconfirmed_sign_ups(cli, store, config):
    sign_up(store, config, "late@example.org", "", (), NOW - timedelta(days=30))
    result = cli("subscribers", "cleanup", "--now", "2026-11-25")
    assert result.exit_code == 0, result.output
    assert "Deleted 1 unconfirmed sign-up(s)" in result.output
    assert store.subscribers.count() == 0


def test_every_subscribers_command_ends_its_help_with_an_example(cli):
    for command in [subscribers, *subscribers.commands.values()]:
        assert "Example:" in command.help, command.name
