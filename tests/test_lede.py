"""Ledes: own summary when it is real prose, else the body's opening, tidied and bounded."""

from datetime import datetime, timezone

import pytest

from digest.lede import ELLIPSIS, make_lede, shorten

TITLE = "Riverside council votes to close three branch libraries"
# Long enough (over 60 characters) to stand alone as a lede.
FIRST = "The council voted on Tuesday to close three of its branch libraries by spring."
SECOND = "Campaigners said they would challenge the decision in court."
BODY = f"{FIRST} {SECOND} The libraries opened in the 1960s."


def article(summary="", body="", title=TITLE, teaser=False):
    from digest.models import Article

    return Article(title=title, url="https://news.example.com/a", category="News",
                   published=datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc), source="test",
                   summary=summary, body=body, teaser=teaser)


# --- the article's own summary ------------------------------------------------------------

def test_a_real_summary_is_preferred_over_the_body():
    summary = "Three branch libraries will shut next spring after a narrow vote, saving £2m a year."
    assert make_lede(article(summary=summary, body=BODY)) == summary


def test_a_summary_that_copies_the_title_is_not_used():
    assert make_lede(article(summary=TITLE, body=BODY)) == FIRST


def test_a_summary_that_copies_the_title_with_a_full_stop_is_not_used():
    assert make_lede(article(summary=TITLE.upper() + ".", body=BODY)) == FIRST


def test_a_summary_starting_with_the_title_keeps_only_the_prose_after_it():
    summary = f"{TITLE}. Campaigners promised a fight in the courts over the closures."
    assert make_lede(article(summary=summary, body=BODY)) == (
        "Campaigners promised a fight in the courts over the closures."
    )


@pytest.mark.parametrize("summary", [
    "The council voted on Tuesday to close three of its branch libr [...]",
    "The council voted on Tuesday to close three of its branch libr […]",
    "The council voted on Tuesday to close three of its branch libr...",
    "The council voted on Tuesday to close three of its branch libr…",
    "The council voted on Tuesday to close three of its branch libr",
])
def test_a_summary_truncated_by_the_feed_gives_way_to_the_body(summary):
    assert make_lede(article(summary=summary, body=BODY)) == FIRST


@pytest.mark.parametrize("summary", ["Read more…", "Read more...", "Continue reading →", "[Continue reading]"])
def test_a_read_more_link_is_not_a_summary(summary):
    assert make_lede(article(summary=summary, body=BODY)) == FIRST


def test_a_continue_reading_label_after_a_truncated_excerpt_is_not_a_summary():
    summary = "The council voted on Tuesday to close three of its [&hellip;] Continue reading →"
    assert make_lede(article(summary=summary.replace("&hellip;", "…"), body=BODY)) == FIRST


def test_a_trailing_read_more_label_is_removed_from_a_real_summary():
    summary = "Three branch libraries will shut next spring after a narrow vote. Read more…"
    assert make_lede(article(summary=summary)) == "Three branch libraries will shut next spring after a narrow vote."


def test_a_summary_ending_in_a_quotation_is_real_prose():
    summary = 'The leader called it "a sad day for the town."'
    assert make_lede(article(summary=summary, body=BODY)) == summary


def test_without_a_body_the_whole_sentences_of_a_truncated_summary_are_kept():
    summary = f"{FIRST} Campaigners said they would chall [...]"
    assert make_lede(article(summary=summary)) == FIRST


def test_without_a_body_a_truncated_sentence_loses_its_partial_word_and_ends_with_an_ellipsis():
    summary = "The council voted on Tuesday to close three of its branch libr [...]"
    assert make_lede(article(summary=summary)) == f"The council voted on Tuesday to close three of its branch{ELLIPSIS}"


# --- the body's opening ---------------------------------------------------------------------

def test_a_long_first_sentence_stands_alone():
    assert make_lede(article(body=BODY)) == FIRST


def test_a_short_first_sentence_is_joined_by_the_second():
    body = f"Libraries are closing. {SECOND} The libraries opened in the 1960s."
    assert make_lede(article(body=body)) == f"Libraries are closing. {SECOND}"


def test_paragraph_breaks_in_the_body_do_not_hide_the_second_sentence():
    body = f"Libraries are closing.\n\n{SECOND}\n\nThe libraries opened in the 1960s."
    assert make_lede(article(body=body)) == f"Libraries are closing. {SECOND}"


@pytest.mark.parametrize("first", [
    "The U.S. Army said on Tuesday that it would send more engineers to the region.",
    "Dr. Amara Okafor, who led the study, said the results surprised her whole team.",
    "Sir Keir Starmer told MPs that the plan would be published before the recess.",
    "Lt.-Gen. Maria Ferreira took command of the northern brigade at a ceremony.",
    "Some fruits, e.g. apples and pears, keep for months in a cool and dark shed.",
    "The city now has 1.28 million residents, up from just under a million in 2000.",
    'The mayor asked "Why now?" before the council voted to close the libraries on Tuesday.',
    '"Enough is enough!" shouted protesters as the council voted to close three libraries.',
    "The report (see p. 4 of the annex) shows a sharp decline in visits to branch libraries.",
    "The council (which met on Tuesday.) voted to close three of its branch libraries at once.",
    "Officials said the bridge, closed since Jan. 3, would reopen within two weeks.",
])
def test_abbreviations_numbers_quotes_and_parentheses_do_not_end_a_sentence(first):
    body = f"{first} Campaigners welcomed the news on Wednesday."
    assert make_lede(article(body=body)) == first


def test_a_quotation_that_closes_a_sentence_ends_it():
    first = '"We will rebuild every one of them," the mayor said at a packed meeting on Tuesday.'
    body = f'{first} "Starting in the spring." Campaigners welcomed the news.'
    assert make_lede(article(body=body)) == first


def test_only_the_opening_of_a_very_long_body_is_read():
    body = f"{FIRST} " + "Filler words keep going on and on here. " * 5000
    assert make_lede(article(body=body)) == FIRST


# --- what precedes the story ---------------------------------------------------------------

@pytest.mark.parametrize("prefix", [
    "LONDON (Reuters) - ",
    "WASHINGTON — ",
    "WASHINGTON—",
    "NEW YORK, Nov 24 (Reuters) - ",
    "SAN FRANCISCO, Calif. -- ",
    "Paris (AFP) - ",
    "By Jane Doe | ",
    "By Jane Doe and John Roe | November 24, 2026 | ",
    "By Jane Doe, Health Editor ",
    "By Jane Doe, Health Editor\n\n",
    "By JANE DOE\n",
    "By Jane Doe | LONDON (Reuters) - ",
])
def test_datelines_and_bylines_before_the_story_are_removed(prefix):
    assert make_lede(article(body=prefix + BODY)) == FIRST


@pytest.mark.parametrize("credit", [
    "Photo: Ann Lee/Northern Press\n\n",
    "Photograph by Ann Lee\n",
    "Image credit: Getty Images\n\n",
    "Image credit…\n\n",
    "(Photo by Ann Lee/Getty Images)\n",
    "Advertisement\n\n",
    "ADVERTISEMENT\n",
    "Advertisement - Scroll to continue\n\n",
])
def test_photo_credits_and_advertisements_before_the_story_are_removed(credit):
    assert make_lede(article(body=credit + BODY)) == FIRST


def test_credits_and_advertisements_inside_the_opening_are_removed():
    body = ("Libraries are closing (Photo by Ann Lee/Getty Images). Advertisement "
            f"{SECOND}\n\nPhoto: Ann Lee\n\nMore text follows.")
    assert make_lede(article(body=body)) == f"Libraries are closing. {SECOND}"


def test_a_summary_loses_its_dateline_too():
    summary = "LONDON (Reuters) - Britain's libraries lost a fifth of their visitors in ten years."
    assert make_lede(article(summary=summary)) == "Britain's libraries lost a fifth of their visitors in ten years."


@pytest.mark.parametrize("opening", [
    "COVID-19 cases rose sharply in the city this week, officials said on Friday evening.",
    "By Tuesday, the council had voted to close three of its branch libraries for good.",
    "NASA said the launch would go ahead on Friday if the weather over the coast held.",
    "Photographs of the flooded high street were shared thousands of times on Monday.",
    "The advertisement was banned by the regulator after complaints from many parents.",
])
def test_story_text_that_resembles_clutter_is_kept(opening):
    assert make_lede(article(body=f"{opening} {SECOND}")) == opening


# --- length ----------------------------------------------------------------------------------

def test_a_long_lede_is_cut_at_a_word_and_ends_with_an_ellipsis():
    body = ("The council voted on Tuesday to close three of its branch libraries, "
            "ending a century of lending in the villages of Northby, Eastwick and Southam, "
            "despite a petition signed by more than twelve thousand residents.")
    lede = make_lede(article(body=body), max_chars=100)
    assert len(lede) <= 100
    assert lede.endswith(ELLIPSIS)
    kept = lede[: -len(ELLIPSIS)]
    assert body.startswith(kept)
    assert body[len(kept)] in " ,"  # the cut falls between words


def test_a_lede_that_fits_is_not_cut():
    assert make_lede(article(body=BODY), max_chars=len(FIRST)) == FIRST


@pytest.mark.parametrize("max_chars", range(5, 90, 7))
def test_shorten_never_exceeds_the_limit_nor_splits_a_word(max_chars):
    text = "Supercalifragilistic words make extraordinarily demanding reading for anyone"
    short = shorten(text, max_chars)
    assert len(short) <= max_chars
    if short:
        words = short.removesuffix(ELLIPSIS).split()
        assert all(word in text.split() or word.rstrip(",") in text.split() for word in words)


def test_a_long_summary_is_cut_at_the_configured_length():
    summary = "Three branch libraries will shut next spring after a narrow vote. " * 10
    lede = make_lede(article(summary=summary), max_chars=120)
    assert len(lede) <= 120 and lede.endswith(ELLIPSIS)


# --- titles-only items --------------------------------------------------------------------------

def test_a_teaser_gets_no_lede_even_with_text():
    assert make_lede(article(summary="A real summary of the story.", body=BODY, teaser=True)) == ""


def test_an_item_with_neither_summary_nor_body_gets_no_lede():
    assert make_lede(article()) == ""


def test_an_item_whose_only_summary_is_its_title_gets_no_lede():
    assert make_lede(article(summary=TITLE)) == ""
