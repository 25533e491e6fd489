"""Reading the audit log a page at a time, newest first, narrowed by action, actor and subject,
as the auditors' console page does."""

from __future__ import annotations

from tutela.audit.log import Action, Subject, record
from tutela.audit.search import AuditFilter, AuditPage, search_entries
from tutela.db import Database


def seed(database: Database) -> None:
    """Seq 1..30: every third a decision by user:2 on case N; the rest views by user:1."""
    with database.unit_of_work() as session:
        for n in range(1, 31):
            if n % 3 == 0:
                record(session, "user:2", Action.DECISION, Subject("case", str(n)), {"n": n})
            else:
                record(session, "user:1", Action.VIEW, Subject("case", str(n)), {"n": n})


def seqs(page: AuditPage) -> list[int]:
    return [e.seq for e in page.entries]


def test_the_first_page_is_the_newest_entries_and_older_ones_follow(database: Database) -> None:
    seed(database)
    with database.reader() as session:
        head = search_entries(session, AuditFilter(), size=12)
        older = search_entries(session, AuditFilter(), size=12, before=head.oldest_seq)
        oldest = search_entries(session, AuditFilter(), size=12, before=older.oldest_seq)
    assert seqs(head) == list(range(30, 18, -1))
    assert (head.has_newer, head.has_older) == (False, True)
    assert seqs(older) == list(range(18, 6, -1))
    assert (older.has_newer, older.has_older) == (True, True)
    assert seqs(oldest) == list(range(6, 0, -1))
    assert (oldest.has_newer, oldest.has_older) == (True, False)


def test_paging_back_towards_the_head_retraces_the_pages(database: Database) -> None:
    seed(database)
    with database.reader() as session:
        newer = search_entries(session, AuditFilter(), size=12, after=6)
        newest = search_entries(session, AuditFilter(), size=12, after=newer.newest_seq)
    assert seqs(newer) == list(range(18, 6, -1))
    assert (newer.has_newer, newer.has_older) == (True, True)
    assert seqs(newest) == list(range(30, 18, -1))
    assert (newest.has_newer, newest.has_older) == (False, True)


def test_filters_narrow_by_action_actor_and_subject(database: Database) -> None:
    seed(database)
    with database.reader() as session:
        decisions = search_entries(session, AuditFilter(action="decision"), size=4)
        by_actor = search_entries(session, AuditFilter(actor="user:2"), size=100)
        one_case = search_entries(
            session, AuditFilter(subject_type="case", subject_id="7"), size=100
        )
        nothing = search_entries(session, AuditFilter(action="decision", actor="user:1"), size=9)
    assert seqs(decisions) == [30, 27, 24, 21]
    assert (decisions.has_newer, decisions.has_older) == (False, True)
    assert seqs(by_actor) == list(range(30, 0, -3))
    assert seqs(one_case) == [7]
    assert (seqs(nothing), nothing.has_newer, nothing.has_older) == ([], False, False)


def test_a_page_past_the_oldest_match_points_back_to_the_matches(database: Database) -> None:
    seed(database)
    with database.reader() as session:
        past = search_entries(session, AuditFilter(action="decision"), size=5, before=3)
    assert (seqs(past), past.has_newer, past.has_older) == ([], True, False)


def test_an_unfiltered_page_past_the_newest_entry_points_back_to_the_head(
    database: Database,
) -> None:
    seed(database)
    with database.reader() as session:
        past = search_entries(session, AuditFilter(), size=5, after=14113)
    assert (seqs(past), past.has_newer, past.has_older) == ([], False, True)
