"""Property tests: the claim analysis never fails, whatever the shape of the page.

Real pages put the vocabulary's words in places no fixture did (a heading that only says "the
following:" once stopped every check of a run). Here pages are built from the vocabulary's own forms
(every cue, heading, marker, indication and treatment), in headings, list items, table rows, citations
and plain lines, joined by the particles and punctuation pages use; ``analyze``, the JSON round trip of its
profile and ``compare`` of two such pages must run through without raising.
"""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from watcher.claims import ClaimProfile, analyze, compare
from watcher.claims.lexicon import _VOCABULARY
from watcher.claims.vocabulary import expand_braces

FORMS = sorted(
    {form for entry in _VOCABULARY.entries for raw in entry.all_forms() for form in expand_braces(raw) if form.strip()}
)
GLUE = [
    "",
    " ",
    "は",
    "を",
    "が",
    "に",
    "の",
    "、",
    "。",
    ":",
    ": ",
    ", ",
    ". ",
    "?",
    " may ",
    " is ",
    " not ",
    "(",
    ")",
]
PREFIXES = ["", "# ", "## ", "### ", "- ", "・", "1. ", "| ", "※", "> ", "Q. ", "A. "]
ENDINGS = ["", "。", ".", ":", "：", "?", "!", " |", "…"]

line = st.builds(
    lambda prefix, words, glue, ending: prefix + "".join(w + g for w, g in zip(words, glue, strict=False)) + ending,
    st.sampled_from(PREFIXES),
    st.lists(st.sampled_from(FORMS), min_size=1, max_size=5),
    st.lists(st.sampled_from(GLUE), min_size=5, max_size=5),
    st.sampled_from(ENDINGS),
)
page = st.lists(st.one_of(line, st.just("")), min_size=1, max_size=14).map("\n".join)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(old=page, new=page, language=st.sampled_from([None, "ja", "en"]))
def test_analysis_never_fails(old: str, new: str, language: str | None) -> None:
    before, after = analyze(old, language), analyze(new, language)
    for profile in (before, after):
        assert ClaimProfile.from_dict(json.loads(json.dumps(profile.to_dict()))) == profile
    compare(before, after)
