"""The values the alert kind and indication filters take, checked with a helpful message.

A typo must not answer "nothing found": ``--kind bogus`` and ``--indication schizo`` are input errors
that list the valid kinds or the closest indication ids. The query functions check their filters
here, so the CLI, the API, exports, feeds, subscriptions and the dashboard all answer the same way.
An indication may also be given by one of its names (``統合失調症``, ``ADHD``, ``Schizophrenia``).
"""

from __future__ import annotations

import difflib
from functools import cache

from watcher.claims.compare import KINDS
from watcher.claims.vocabulary import load_vocabulary, match_key
from watcher.errors import InputError

# Site discovery raises new_page alerts (watcher.pipeline.new_pages): a kind like the others for
# filters, subscriptions and feeds, though no profile comparison produces it.
NEW_PAGE = "new_page"
ALERT_KINDS = (*KINDS, NEW_PAGE)

MAX_SUGGESTIONS = 5


def _closest(value: str, choices: tuple[str, ...]) -> list[str]:
    wanted = value.strip().casefold().replace("-", "_").replace(" ", "_")
    containing = [choice for choice in choices if wanted and (wanted in choice or choice in wanted)]
    similar = difflib.get_close_matches(wanted, choices, n=MAX_SUGGESTIONS, cutoff=0.6)
    return list(dict.fromkeys(containing + similar))[:MAX_SUGGESTIONS]


def alert_kind(value: str) -> str:
    """``value`` if it is an alert kind, else an InputError naming the kinds."""
    kind = value.strip()
    if kind in ALERT_KINDS:
        return kind
    close = _closest(kind, ALERT_KINDS)
    hint = f" (did you mean {' or '.join(close)}?)" if close else ""
    raise InputError(f"unknown alert kind {value!r}{hint}: use one of {', '.join(ALERT_KINDS)}")


@cache
def _indication_names() -> dict[str, str]:
    """Every name of every indication (forms, abbreviations, labels), as matched, → its id."""
    names: dict[str, str] = {}
    for entry in load_vocabulary().of_kind("indication"):
        for form in entry.forms:
            names.setdefault(match_key(form, exact=False), entry.id)
        for form in entry.exact_forms:
            names.setdefault(match_key(form, exact=True), entry.id)
        for label in (entry.label_en, entry.label_ja, entry.id.replace("_", " ")):
            if label:
                names.setdefault(match_key(label, exact=False), entry.id)
    return names


def indication_id(value: str) -> str:
    """The canonical id of the indication ``value`` names (its id, or one of its names), else an
    InputError with the closest ids."""
    text = value.strip()
    ids = load_vocabulary().indication_ids
    if text in ids:
        return text
    names = _indication_names()
    found = names.get(match_key(text, exact=True)) or names.get(match_key(text, exact=False))
    if found is not None:
        return found
    close = _closest(text, ids)
    hint = (
        f"did you mean {' or '.join(close)}?"
        if close
        else f"ids are like {', '.join(ids[:6])}, …; `watcher claims` lists those claimed"
    )
    raise InputError(f"unknown indication {value!r}: {hint}")


def checked_filters(kind: str | None, indication: str | None) -> tuple[str | None, str | None]:
    """The kind and indication filters of an alert listing, checked (None or empty: no filter)."""
    return (alert_kind(kind) if kind else None), (indication_id(indication) if indication else None)
