"""The language recorded on a claim profile: 'ja', 'en' or 'mixed'.

One detector serves the whole flow: the extractor's (``watcher.extract.language``), which records the
language of every text version; a profile states the same language as the version it was built from.
The rules need no hint (each cue carries its own language), so the profile's language is a label; a
text without letters, which the extractor leaves without a language, is labelled English.
"""

from __future__ import annotations

from watcher.extract.language import detect_language as detect_text_language

ENGLISH = "en"


def detect_language(text: str) -> str:
    """'ja', 'en' or 'mixed' (see ``watcher.extract.language``); 'en' for a text without letters."""
    return detect_text_language(text) or ENGLISH
