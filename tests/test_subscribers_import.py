"""subscribers.csv import and export against a real SQLite file."""

from __future__ import annotations

import io
import shutil
from datetime import timedelta

import pytest
from conftest import DATA, NOW

from digest.errors import InputError
from digest.subscribers import add, export_csv, import_csv, sign_up, unsubscribe

FILES = DATA / "subscribers"
LATER = NOW + timedelta(hours=1)


def emails(store, status=None):
    return [s.email for s in store.subscribers.iter(status)]


def test_good_file_adds_every_row_with_canonical_categories(store, config):
    report = import_csv(store, config, FILES / "good.csv", NOW)
    assert (report.new, report.updated, report.unchanged, report.rejected) == (3, 0, 0, 0)
    assert report.applied
    tom = store.subscribers.by_email("tom.brennan@example.org")
    assert tom.name == "Brennan, Tom"
    assert tom.categories == ("Technology",)  # "tech" is an alias
    assert tom.status == "active"
    assert store.subscribers.by_email("maya.ishikawa@example.com").categories == ("News", "Travel")
    assert store.subscribers.by_email("rosa.delgado@example.com").categories == ()  # all


def test_new_subscribers_get_an_import_event(store, config):
    import_csv(store, config, FILES / "good.csv", NOW)
    maya = store.subscribers.by_email("maya.ishikawa@example.com")
    events = store.events.for_subscriber(maya.id)
    assert [(e["kind"], e["origin"], e["detail"]) for e in events] == [
        ("subscribed", "import", "categories: News;Travel")
    ]


def test_a_byte_order_mark_does_not_hide_the_email_column(store, config):
    report = import_csv(store, config, FILES / "bom.csv", NOW)
    assert (report.new, report.rejected) == (1, 0)
    assert store.subscribers.by_email("olu.adeyemi@example.com").categories == ("Health",)


def test_extra_columns_are_ignored_with_a_note_and_columns_may_be_in_any_order(store, config):
    report = import_csv(store, config, FILES / "extra_columns.csv", NOW)
    assert report.new == 2 and report.rejected == 0
    assert any("ignoring extra column(s) Phone, Joined" in note for note in report.notes)
    ines = store.subscribers.by_email("ines.carvalho@example.org")
    assert (ines.name, ines.categories) == ("Ines Carvalho", ("Business", "Travel"))


def test_every_bad_row_is_reported_with_its_line_and_nothing_is_applied(store, config):
    report = import_csv(store, config, FILES / "bad_rows.csv", NOW)
    assert not report.applied
    assert report.rejected == 4
    where = str(FILES / "bad_rows.csv")
    problems = "\n".join(report.problems)
    assert f"{where} line 3: 'not-an-address' is not a valid email address" in problems
    assert f"{where} line 4: unknown category 'Sport'" in problems
    assert f"{where} line 5: maya.ishikawa@example.com is already on line 2" in problems
    assert f"{where} line 6: empty email" in problems
    assert "nothing imported" in report.line()
    assert emails(store) == []  # the two good rows were not applied either


def test_skip_invalid_applies_the_good_rows_and_still_reports_the_bad(store, config):
    report = import_csv(store, config, FILES / "bad_rows.csv", NOW, skip_invalid=True)
    assert report.applied
    assert (report.new, report.rejected) == (2, 4)
    assert len(report.problems) == 4
    assert emails(store) == ["maya.ishikawa@example.com", "nadia.haddad@example.org"]
    # the first of the duplicated lines wins
    assert store.subscribers.by_email("maya.ishikawa@example.com").categories == ("News",)


def test_dry_run_reports_what_would_happen_and_writes_nothing(store, config):
    report = import_csv(store, config, FILES / "good.csv", NOW, dry_run=True)
    assert report.new == 3 and not report.applied
    assert "dry run" in report.line()
    assert emails(store) == []
    assert store.execute("SELECT count(*) FROM events").fetchone()[0] == 0


def test_a_missing_column_rejects_the_whole_file(store, config):
    with pytest.raises(InputError, match=r"missing_column.csv line 1: missing column\(s\) categories"):
        import_csv(store, config, FILES / "missing_column.csv", NOW)


def test_a_file_without_a_header_is_refused(store, config):
    with pytest.raises(InputError, match="no_header.csv line 1: no header; the first line must be email,name,categories"):
        import_csv(store, config, FILES / "no_header.csv", NOW)


def test_an_empty_file_is_refused(store, config, tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match="empty.csv: the file is empty"):
        import_csv(store, config, empty, NOW)


def test_an_unreadable_file_is_a_clear_error(store, config, tmp_path):
    with pytest.raises(InputError, match="nope.csv: cannot read: No such file or directory"):
        import_csv(store, config, tmp_path / "nope.csv", NOW)
    with pytest.raises(InputError, match="cannot read: Is a directory"):
        import_csv(store, config, tmp_path, NOW)


def test_bytes_that_are_not_utf8_reject_the_row_that_holds_them(store, config):
    report = import_csv(store, config, FILES / "not_utf8.csv", NOW)
    assert report.rejected == 1
    assert report.problems == [f"{FILES / 'not_utf8.csv'} line 3: not valid UTF-8 (save the file as UTF-8)"]
    assert emails(store) == []


def test_commas_between_categories_are_caught_rather_than_dropped(store, config):
    report = import_csv(store, config, FILES / "commas_for_categories.csv", NOW)
    assert report.rejected == 1
    assert "line 2: 4 fields but the header has 3 (separate categories with ';'" in report.problems[0]


def test_a_quoted_name_spanning_lines_does_not_shift_later_line_numbers(store, config, tmp_path):
    path = tmp_path / "multiline.csv"
    path.write_text('email,name,categories\n'
                    'a@example.com,"two\nlines",News\n'
                    'b@example.com,Bea,Sport\n', encoding="utf-8")
    report = import_csv(store, config, path, NOW)
    # the name with a line break is refused (it would end up in a To: header), on its first line
    assert report.problems[0].startswith(f"{path} line 2: name 'two\\nlines' contains a line break")
    assert report.problems[1].startswith(f"{path} line 4: unknown category 'Sport'")


def test_reimporting_counts_updated_and_unchanged_rows(store, config, tmp_path):
    import_csv(store, config, FILES / "good.csv", NOW)
    changed = tmp_path / "changed.csv"
    changed.write_text(
        "email,name,categories\n"
        "maya.ishikawa@example.com,Maya Ishikawa,travel;NEWS\n"  # same set, other order and case
        "tom.brennan@example.org,Tom Brennan,Technology;Business\n"  # name and categories changed
        "rosa.delgado@example.com,Rosa Delgado,\n",
        encoding="utf-8",
    )
    report = import_csv(store, config, changed, LATER)
    assert (report.new, report.updated, report.unchanged, report.rejected) == (0, 1, 2, 0)
    tom = store.subscribers.by_email("tom.brennan@example.org")
    assert (tom.name, tom.categories) == ("Tom Brennan", ("Business", "Technology"))
    last = store.events.for_subscriber(tom.id)[-1]
    assert last["kind"] == "updated" and last["origin"] == "import"
    assert last["detail"] == "name: 'Brennan, Tom' -> 'Tom Brennan'; categories: Technology -> Business;Technology"
    maya = store.subscribers.by_email("maya.ishikawa@example.com")
    assert len(store.events.for_subscriber(maya.id)) == 1  # unchanged rows record nothing


def test_unsubscribed_address_is_not_resubscribed_by_import(store, config):
    import_csv(store, config, FILES / "good.csv", NOW)
    maya = store.subscribers.by_email("maya.ishikawa@example.com")
    unsubscribe(store, maya.id, NOW, origin="web:unsubscribe")
    report = import_csv(store, config, FILES / "good.csv", LATER)
    assert (report.kept, report.unchanged, report.updated) == (1, 2, 0)
    assert f"{FILES / 'good.csv'} line 2: maya.ishikawa@example.com kept unsubscribed" in "\n".join(report.notes)
    assert store.subscribers.by_email("maya.ishikawa@example.com").status == "unsubscribed"


def test_bounced_address_is_kept_bounced_by_import(store, config):
    import_csv(store, config, FILES / "good.csv", NOW)
    store.subscribers.update(store.subscribers.by_email("rosa.delgado@example.com").id, NOW, status="bounced")
    report = import_csv(store, config, FILES / "good.csv", LATER)
    assert report.kept == 1
    assert "rosa.delgado@example.com kept bounced" in "\n".join(report.notes)
    assert store.subscribers.by_email("rosa.delgado@example.com").status == "bounced"


def test_resubscribe_option_subscribes_unsubscribed_addresses_again(store, config):
    import_csv(store, config, FILES / "good.csv", NOW)
    maya = store.subscribers.by_email("maya.ishikawa@example.com")
    unsubscribe(store, maya.id, NOW, origin="web:unsubscribe")
    report = import_csv(store, config, FILES / "good.csv", LATER, resubscribe=True)
    assert (report.kept, report.updated, report.unchanged) == (0, 1, 2)
    assert store.subscribers.get(maya.id).status == "active"
    last = store.events.for_subscriber(maya.id)[-1]
    assert (last["kind"], last["origin"], last["detail"]) == (
        "resubscribed", "import", "status: unsubscribed -> active")


def test_export_then_import_changes_nothing(store, config, tmp_path):
    import_csv(store, config, FILES / "good.csv", NOW)
    import_csv(store, config, FILES / "extra_columns.csv", NOW)
    add(store, config, "zoe.quinn@example.com", 'Zoë "Z" Quinn', "Education;Health", NOW)
    out = io.StringIO()
    assert export_csv(store, out) == 6
    exported = tmp_path / "exported.csv"
    exported.write_text(out.getvalue(), encoding="utf-8")
    report = import_csv(store, config, exported, LATER)
    assert (report.new, report.updated, report.unchanged, report.kept, report.rejected) == (0, 0, 6, 0, 0)
    assert out.getvalue().splitlines()[0] == "email,name,categories"
    assert "zoe.quinn@example.com,\"Zoë \"\"Z\"\" Quinn\",Health;Education" in out.getvalue()


def test_export_writes_only_active_subscribers_unless_asked(store, config):
    import_csv(store, config, FILES / "good.csv", NOW)
    unsubscribe(store, store.subscribers.by_email("rosa.delgado@example.com").id, NOW, origin="cli")
    active, everyone = io.StringIO(), io.StringIO()
    export_csv(store, active)
    export_csv(store, everyone, status=None)
    assert "rosa.delgado" not in active.getvalue()
    assert "rosa.delgado@example.com,Rosa Delgado,\n" in everyone.getvalue()


def test_the_bundled_sample_file_imports_cleanly(store, config, tmp_path):
    sample = DATA.parent.parent / "subscribers.csv"
    copy = tmp_path / "subscribers.csv"
    shutil.copy(sample, copy)
    report = import_csv(store, config, copy, NOW)
    assert report.rejected == 0 and report.new >= 8
    domains = {s.email.rsplit("@", 1)[1] for s in store.subscribers.iter()}
    assert domains <= {"example.com", "example.org"}
    assert len({s.categories for s in store.subscribers.iter()}) >= 6  # varied choices


def test_import_activates_an_address_still_waiting_for_confirmation(store, config):
    pending, _ = sign_up(store, config, "rosa.delgado@example.com", "Rosa", ("News",), NOW)
    report = import_csv(store, config, FILES / "good.csv", LATER)
    assert (report.new, report.updated) == (2, 1)
    rosa = store.subscribers.get(pending.id)
    assert (rosa.status, rosa.name, rosa.categories) == ("active", "Rosa Delgado", ())
    last = store.events.for_subscriber(pending.id)[-1]
    assert (last["kind"], last["origin"]) == ("subscribed", "import")
