"""Exercises for notebook 08, the reference design's flaws.

* ``ex1`` (8.1): spot the flaw. Six short snippets, each making one of the fourteen mistakes of
  notebook 08; the learner names which (by number, or by its title), and the check explains.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from esteach.exercises.core import Exercise, NotYet

__all__ = ["FLAWS", "SNIPPETS", "VERDICTS", "ex1", "show"]

FLAWS: Final[dict[int, str]] = {
    1: "Handlers never fire",
    2: "Stream id and user id differ",
    3: "Misleading errors",
    4: "No validation, no-op events",
    5: "Unsafe pagination",
    6: "LIKE wildcards from users",
    7: "Projections are not idempotent and have no checkpoint",
    8: "Snapshots can be skipped, go stale, and are read off by one",
    9: "The cache goes stale",
    10: "Batched appends are not atomic",
    11: "The lock map races",
    12: "Metadata is never filled",
    13: "Timestamps are taken too early",
    14: "Panics on bad data",
}
"""The fourteen flaws of notebook 08, by number."""


@dataclass(frozen=True)
class Snippet:
    """One snippet: its code, the flaw it makes, and the line that gives it away."""

    code: str
    flaw: int
    tell: str
    why: str


SNIPPETS: Final[dict[str, Snippet]] = {
    "A": Snippet(
        """\
def on_money_deposited(event):             # subscribed to a queue that may deliver again
    totals[event.aggregate_id] += event.data["amount"]
""",
        7,
        "totals[...] += ... with nothing that remembers which events were handled",
        "a redelivered or replayed deposit is added again: the handler is not idempotent and "
        "no checkpoint says how far the projection got",
    ),
    "B": Snippet(
        """\
def find_users(con, text):
    return con.execute(
        "SELECT * FROM users WHERE email ILIKE ?", [f"%{text}%"]
    ).fetchall()
""",
        6,
        'f"%{text}%" handed to ILIKE as it is',
        "a % or _ the user types is a wildcard: searching for '%' finds everybody",
    ),
    "C": Snippet(
        """\
def append_events(stream, expected_version, events):
    for offset, event in enumerate(events, start=1):
        con.execute("INSERT INTO events VALUES (?, ?, ?)",
                    [stream, expected_version + offset, event])
        con.commit()                       # one transaction per event
""",
        10,
        "con.commit() inside the loop",
        "when the third insert fails, the first two stay written: half a batch is in the log",
    ),
    "D": Snippet(
        """\
def execute(command):
    stamped = datetime.now(UTC)            # when the command came in
    user = repository.load(command.user_id)    # may wait for a lock, or retry
    events = user.handle_command(command)
    store.append(command.user_id, user.version, events, timestamp=stamped)
""",
        13,
        "datetime.now() read before loading, deciding and appending",
        "a writer stamped first may commit last, so in commit order time runs backwards",
    ),
    "E": Snippet(
        """\
cache = {}

def events_of(stream_id, from_version=0):
    key = f"{stream_id}:{from_version}"
    if key not in cache:
        cache[key] = store.get_events(stream_id, from_version)
    return cache[key]                      # append_events never touches cache
""",
        9,
        "nothing removes or updates cache[key] when events are appended",
        "after an append, events_of returns the events as they were: the change is invisible",
    ),
    "F": Snippet(
        """\
locks = {}

def lock_for(stream_id):
    if stream_id not in locks:             # two threads can both see it missing ...
        locks[stream_id] = threading.Lock()    # ... and each make a lock of its own
    return locks[stream_id]
""",
        11,
        "the check and the insert are two steps, with no lock around both",
        "two writers of one stream can hold two different locks, and both write at once",
    ),
}
"""The snippets of exercise 8.1, by letter."""

VERDICTS: Final[dict[str, int]] = {letter: snippet.flaw for letter, snippet in SNIPPETS.items()}
"""Exercise 8.1: the flaw each snippet makes, by its number in notebook 08."""


def show() -> str:
    """The snippets and the list of flaws, as the notebook prints them."""
    parts = [f"--- {letter} ---\n{snippet.code}" for letter, snippet in SNIPPETS.items()]
    flaws = "\n".join(f"{number:>2}  {title}" for number, title in FLAWS.items())
    return "\n".join(parts) + "\nThe flaws of notebook 08:\n" + flaws


def _normalise(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


_BY_TITLE: Final = {_normalise(title): number for number, title in FLAWS.items()}


def _flaw_number(letter: str, answer: object) -> int:
    """The flaw an answer names: a number 1-14, or a title (any case, any punctuation)."""
    if isinstance(answer, bool):
        answer = repr(answer)
    if isinstance(answer, int) and answer in FLAWS:
        return answer
    if isinstance(answer, str):
        text = _normalise(answer).removeprefix("flaw ")
        if text.isdigit() and int(text) in FLAWS:
            return int(text)
        if text in _BY_TITLE:
            return _BY_TITLE[text]
    raise NotYet(
        f"for snippet {letter} you wrote {answer!r:.40}, which is not a flaw of notebook 08: "
        f"write its number (1 to 14) or its title",
        mistake="unknown flaw",
        hint="print(show()) lists the fourteen flaws with their numbers; "
        "verdicts['A'] = 7, for instance.",
    )


def check_verdicts(verdicts: object) -> str:
    if not isinstance(verdicts, dict):
        raise NotYet(
            f"verdicts must be a dict, snippet letter -> flaw number, got "
            f"{type(verdicts).__name__}",
            mistake="wrong answer type",
        )
    missing = [letter for letter in SNIPPETS if letter not in verdicts]
    if missing:
        raise NotYet(
            f"no verdict for snippet {', '.join(missing)}: every snippet makes one flaw",
            mistake="snippet left out",
            hint=f"verdicts needs the keys {', '.join(SNIPPETS)}, one flaw number each.",
        )
    numbers = {letter: _flaw_number(letter, verdicts[letter]) for letter in SNIPPETS}
    seen: dict[int, str] = {}
    for letter, number in numbers.items():
        if number in seen:
            raise NotYet(
                f"snippets {seen[number]} and {letter} both got flaw {number} "
                f"({FLAWS[number]}), but each snippet makes a different one (rule 2)",
                mistake="same flaw twice",
                hint=f"Read snippets {seen[number]} and {letter} side by side: which of the two "
                f"shows '{FLAWS[number]}'? The other one's giveaway line names another flaw.",
            )
        seen[number] = letter
    for letter, snippet in SNIPPETS.items():
        number = numbers[letter]
        if number != snippet.flaw:
            raise NotYet(
                f"snippet {letter} is not flaw {number} ({FLAWS[number]}); look at {snippet.tell}",
                mistake="wrong flaw",
                hint=f"In snippet {letter}, {snippet.why}.",
            )
    return "all six right: " + "; ".join(
        f"{letter} is flaw {snippet.flaw}, {snippet.why}" for letter, snippet in SNIPPETS.items()
    )


ex1 = Exercise(
    "8.1",
    "Spot the flaw",
    ["verdicts"],
    check_verdicts,
    [VERDICTS],
    [
        "Look at each snippet for the one line that would hurt in production: a commit, a "
        "clock reading, a check-then-act, a string a user typed, a cache, a +=.",
        "Two of the snippets are about writing (the log, a lock), two about reading (a cache, "
        "a search), one about a projection and one about time.",
        "A commit inside a loop: flaw 10. A check-then-insert into a dict of locks: flaw 11. "
        "A clock read before the append: flaw 13.",
    ],
)
