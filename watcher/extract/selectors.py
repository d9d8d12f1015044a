"""Per-source CSS selectors, for the pages no heuristic gets right.

``select``: only the elements they match are the page's main text (in document order; nested
matches count once). ``drop``: the elements they match are removed first, wherever they are.
Both are plain CSS (``#content``, ``div.entry > p``, ``.ad-box, .sns``), compiled once to XPath
by cssselect (the library lxml itself uses for CSS).

A text version made with selectors is another rendering of the same snapshot, so the selectors
are part of its version: ``watcher.extract.extractor_version(selectors)`` is ``EXTRACTOR_VERSION``
when there are none and ``EXTRACTOR_VERSION+<Selectors.key>`` otherwise. Storing that version on
the text version and comparing against it, as against ``EXTRACTOR_VERSION`` today, makes a change
of selectors re-derive the text silently (a re-derivation never alerts).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from cssselect import GenericTranslator, SelectorError
from lxml import etree

from watcher.errors import InputError

_MAX_SELECTOR_CHARS = 500
_HASH_CHARS = 12


@dataclass(frozen=True)
class Selectors:
    """Validated CSS selectors of one source; build with ``Selectors.parse``."""

    select: tuple[str, ...] = ()
    drop: tuple[str, ...] = ()

    @classmethod
    def parse(cls, *, select: Iterable[str] = (), drop: Iterable[str] = ()) -> Selectors:
        """Strip, de-duplicate and compile; raises ``InputError`` (one line) on an invalid selector."""
        selectors = cls(select=_clean(select), drop=_clean(drop))
        for text in (*selectors.select, *selectors.drop):
            _compile(text)
        return selectors

    def __bool__(self) -> bool:
        return bool(self.select or self.drop)

    @property
    def key(self) -> str:
        """A short stable digest of the selectors ("" without any): the same selectors, the same key."""
        if not self:
            return ""
        canonical = json.dumps({"select": self.select, "drop": self.drop}, ensure_ascii=False, sort_keys=True)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:_HASH_CHARS]

    def selected(self, document: Any) -> list[Any]:
        """Elements matched by ``select``, outermost only, in document order."""
        return _outermost(document, self.select)

    def dropped(self, document: Any) -> list[Any]:
        """Elements matched by ``drop``, outermost only, in document order."""
        return _outermost(document, self.drop)


NO_SELECTORS = Selectors()


def _clean(selectors: Iterable[str]) -> tuple[str, ...]:
    if isinstance(selectors, str):
        selectors = (selectors,)
    seen: dict[str, None] = {}
    for text in selectors:
        stripped = str(text).strip()
        if stripped:
            seen.setdefault(stripped, None)
    return tuple(seen)


@lru_cache(maxsize=512)
def _compile(text: str) -> Any:
    if len(text) > _MAX_SELECTOR_CHARS:
        raise InputError(f"CSS selector too long ({len(text)} characters, at most {_MAX_SELECTOR_CHARS})")
    try:
        # HTML element names are matched as parsed (lower case), so the generic translator fits.
        xpath = GenericTranslator().css_to_xpath(text)
        return etree.XPath(xpath)
    except SelectorError as error:
        raise InputError(f"invalid CSS selector {text!r}: {error}") from None
    except etree.XPathError as error:  # pragma: no cover - cssselect emits valid XPath 1.0
        raise InputError(f"CSS selector {text!r} cannot be used: {error}") from None


def _outermost(document: Any, selectors: tuple[str, ...]) -> list[Any]:
    if not selectors:
        return []
    matches: dict[Any, None] = {}
    for text in selectors:
        for element in _compile(text)(document):
            if isinstance(element, etree._Element) and isinstance(element.tag, str):
                matches.setdefault(element, None)
    chosen = set(matches)
    outer = [element for element in matches if not any(ancestor in chosen for ancestor in element.iterancestors())]
    order = {element: index for index, element in enumerate(document.iter())}
    return sorted(outer, key=lambda element: order.get(element, 0))
