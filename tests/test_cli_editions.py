"""`digest build`, `drop`, `undrop` and `lede` through the real CLI and a real database file."""

import json
from datetime import timedelta

from conftest import NOW
from test_editions import add_article

from digest.timeutil import iso

WHEN = "2026-11-25T12:00"  # NOW, read in the default timezone (UTC)


def test_build_prints_the_key_window_and_count_per_category(cli, store):
    add_article(store, "Budget passes", NOW - timedelta(hours=1))
    add_article(store, "Flu season starts", NOW - timedelta(hours=2), category="Health")
    add_article(store, "Ferry strike", NOW - timedelta(hours=3), category="Health")
    result = cli("build", "--now", WHEN)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "Built edition 2026-W48 (draft): 3 articles"
    assert lines[1] == "Window: 2026-11-18 12:00 UTC to 2026-11-25 12:00 UTC"
    assert [line.split() for line in lines[2:]] == [["News", "1"], ["Health", "2"]]


def test_build_again_says_the_draft_was_refreshed(cli, store):
    add_article(store, "Budget passes", NOW - timedelta(hours=3))
    assert cli("build", "--now", "2026-11-25T10:00").exit_code == 0
    result = cli("build", "--now", WHEN)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Refreshed draft edition 2026-W48 (draft): 1 article\n")


def test_build_json_lists_the_window_status_and_articles_per_category(cli, store):
    budget = add_article(store, "Budget passes", NOW - timedelta(hours=1))
    flu = add_article(store, "Flu season starts", NOW - timedelta(hours=2), category="Health")
    result = cli("build", "--now", WHEN, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["key"] == "2026-W48"
    assert data["status"] == "draft"
    assert data["refreshed"] is False
    assert data["window_start"] == iso(NOW - timedelta(days=7)) == "2026-11-18T12:00:00Z"
    assert data["window_end"] == "2026-11-25T12:00:00Z"
    assert [(s["category"], [(a["id"], a["title"]) for a in s["articles"]]) for s in data["sections"]] == [
        ("News", [(budget.id, "Budget passes")]),
        ("Health", [(flu.id, "Flu season starts")]),
    ]


def test_build_with_nothing_in_the_window_says_so_and_exits_1(cli, store):
    add_article(store, "Old news", NOW - timedelta(days=60))
    result = cli("build", "--now", WHEN)
    assert result.exit_code == 1
    assert result.output == ("Error: nothing to build for 2026-W48: no new articles were published in the window "
                             "2026-11-18 12:00 UTC to 2026-11-25 12:00 UTC; no edition was created\n")
    assert store.editions.list() == []


def test_build_refuses_an_approved_edition_and_says_it_is_approved(cli, store):
    add_article(store, "Budget passes", NOW - timedelta(hours=3))
    assert cli("build", "--now", "2026-11-25T10:00").exit_code == 0
    store.editions.set_status("2026-W48", "approved", NOW)
    add_article(store, "Late story", NOW - timedelta(hours=1))
    result = cli("build", "--now", WHEN, "--json")
    assert result.exit_code == 1
    assert "Error: edition 2026-W48 is approved" in result.output
    assert "Traceback" not in result.output
    assert [a.title for _, a in store.editions.articles("2026-W48")] == ["Budget passes"]


def test_build_with_an_unreadable_now_is_a_clear_error(cli):
    result = cli("build", "--now", "next blue moon")
    assert result.exit_code == 1
    assert "cannot read 'next blue moon' as a date/time" in result.output


def test_drop_and_undrop_an_article_across_a_refresh(cli, store):
    kept = add_article(store, "Kept", NOW - timedelta(hours=3))
    unwanted = add_article(store, "Unwanted", NOW - timedelta(hours=2))
    assert cli("build", "--now", "2026-11-25T10:00").exit_code == 0

    result = cli("drop", unwanted.id, "--now", "2026-11-25T11:00")
    assert result.exit_code == 0, result.output
    assert f"Dropped article {unwanted.id} (Unwanted) from 2026-W48" in result.output
    assert "1 article." in result.output
    built = json.loads(cli("build", "--now", WHEN, "--json").output)
    assert [a["id"] for a in built["sections"][0]["articles"]] == [kept.id]

    result = cli("undrop", unwanted.id)
    assert result.exit_code == 0, result.output
    assert result.output == f"Article {unwanted.id} (Unwanted) is back in 2026-W48 under News.\n"
    built = json.loads(cli("build", "--now", WHEN, "--json").output)
    assert [a["id"] for a in built["sections"][0]["articles"]] == [unwanted.id, kept.id]


def test_drop_with_an_explicit_edition(cli, store):
    story = add_article(store, "Story", NOW - timedelta(hours=2))
    cli("build", "--now", WHEN)
    result = cli("drop", story.id, "--edition", "2026-W48", "--now", WHEN)
    assert result.exit_code == 0, result.output
    assert store.editions.dropped("2026-W48") == [story.id]


def test_drop_and_undrop_of_an_unknown_article_are_clear_errors(cli, store):
    add_article(store, "Story", NOW - timedelta(hours=2))
    cli("build", "--now", WHEN)
    for command in ("drop", "undrop"):
        result = cli(command, 4242)
        assert result.exit_code == 1
        assert result.output == "Error: no article with id 4242 (digest articles lists them)\n"


def test_drop_of_a_non_number_is_a_usage_error(cli):
    result = cli("drop", "forty-two")
    assert result.exit_code == 2
    assert "'forty-two' is not a valid integer" in result.output


def test_drop_from_an_approved_edition_is_refused(cli, store):
    story = add_article(store, "Story", NOW - timedelta(hours=2))
    cli("build", "--now", WHEN)
    store.editions.set_status("2026-W48", "approved", NOW)
    result = cli("drop", story.id)
    assert result.exit_code == 1
    assert "Error: edition 2026-W48 is approved, so it cannot be changed" in result.output
    assert store.editions.dropped("2026-W48") == []


def test_undrop_of_an_article_never_dropped_is_a_clear_error(cli, store):
    story = add_article(store, "Story", NOW - timedelta(hours=2))
    result = cli("undrop", story.id)
    assert result.exit_code == 1
    assert result.output == f"Error: article {story.id} has not been dropped from any edition\n"


def test_lede_shows_sets_and_resets_an_editors_lede(cli, store):
    story = add_article(store, "Story", NOW - timedelta(hours=2),
                        summary="Three branch libraries will close in the spring after a narrow vote.")
    computed = "Three branch libraries will close in the spring after a narrow vote."

    result = cli("lede", story.id)
    assert result.output == f"Lede of article {story.id} (computed): {computed}\n"

    result = cli("lede", story.id, "Libraries: the vote, the cuts and what comes next.")
    assert result.exit_code == 0, result.output
    assert cli("lede", story.id).output == (
        f"Lede of article {story.id} (editor's): Libraries: the vote, the cuts and what comes next.\n")
    built = cli("build", "--now", WHEN)
    assert built.exit_code == 0
    assert store.articles.get(story.id).lede == "Libraries: the vote, the cuts and what comes next."

    result = cli("lede", story.id, "--reset")
    assert result.exit_code == 0, result.output
    assert result.output == f"Lede of article {story.id} is the computed one again: {computed}\n"
    assert store.articles.get(story.id).lede == computed


def test_lede_refuses_bad_input(cli, store):
    story = add_article(store, "Story", NOW - timedelta(hours=2))
    result = cli("lede", 4242, "Some text")
    assert (result.exit_code, result.output) == (1, "Error: no article with id 4242 (digest articles lists them)\n")
    result = cli("lede", story.id, "   ")
    assert result.exit_code == 1
    assert "the lede is empty; to go back to the computed lede use --reset" in result.output
    result = cli("lede", story.id, "Text", "--reset")
    assert result.exit_code == 2
    assert "either TEXT or --reset" in result.output
    assert not store.articles.get(story.id).lede_overridden


def test_a_teasers_lede_is_shown_as_none(cli, store):
    teaser = add_article(store, "Headline only", NOW - timedelta(hours=2), body="", teaser=True)
    assert cli("lede", teaser.id).output == f"Lede of article {teaser.id} (computed): (none: titles only)\n"


def test_every_editions_command_documents_an_example(cli):
    for command in ("build", "drop", "undrop", "lede"):
        result = cli(command, "--help")
        assert result.exit_code == 0
        assert "  Example:\n      digest " + command in result.output
