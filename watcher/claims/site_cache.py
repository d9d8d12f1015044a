"""A compact store of small-integer records keyed by a 64-bit hash: the claim analyser's memory of every
sentence of a site (``watcher.claims.strength`` encodes its assessments into records and back).

A ``dict`` of Python objects costs about 1 KB per assessment, and a site of 5,000 pages holds about
60,000 distinct sentences; here a record is a run of 16-bit words in one flat array (about 20 words an
assessment), found through an open-addressing table of two flat arrays (the key, the record's offset), so
an entry costs some 60 bytes and no Python object at all. The store is bounded: when it holds
``max_records`` records or ``max_words`` words it is emptied and starts again (a long-running service
whose pages keep changing does not grow without end).
"""

from __future__ import annotations

from array import array

_EMPTY = 0
_FIRST_SLOTS = 1 << 12
_MAX_LOAD = 0.7
WORD = 0xFFFF  # the largest value a record's word holds


class CompactStore:
    def __init__(self, *, max_records: int, max_words: int) -> None:
        self.max_records = max_records
        self.max_words = max_words
        self.clear()

    def clear(self) -> None:
        self._keys = array("q", bytes(8 * _FIRST_SLOTS))
        self._offsets = array("I", bytes(4 * _FIRST_SLOTS))
        self._mask = _FIRST_SLOTS - 1
        self._limit = int(_MAX_LOAD * _FIRST_SLOTS)
        self._words = array("H")
        self.records = 0

    @property
    def nbytes(self) -> int:
        """The bytes the store's arrays hold (their items; arrays over-allocate a little beyond that)."""
        return sum(len(part) * part.itemsize for part in (self._keys, self._offsets, self._words))

    def get(self, key: int) -> array[int] | None:
        """The record stored under ``key``, or None."""
        key = key or 1  # 0 marks an empty slot
        keys, mask = self._keys, self._mask
        slot = key & mask
        while True:
            found = keys[slot]
            if found == key:
                offset = self._offsets[slot]
                return self._words[offset + 1 : offset + 1 + self._words[offset]]
            if found == _EMPTY:
                return None
            slot = (slot + 1) & mask

    def put(self, key: int, record: list[int]) -> None:
        """Store ``record`` (words of 0..``WORD``) under ``key``, which must not be stored yet."""
        if self.records >= self.max_records or len(self._words) + len(record) >= self.max_words:
            self.clear()
        if self.records >= self._limit:
            self._grow()
        words = self._words
        self._place(key or 1, len(words))
        words.append(len(record))
        words.fromlist(record)
        self.records += 1

    def _place(self, key: int, offset: int) -> None:
        keys, mask = self._keys, self._mask
        slot = key & mask
        while keys[slot] != _EMPTY:
            slot = (slot + 1) & mask
        keys[slot] = key
        self._offsets[slot] = offset

    def _grow(self) -> None:
        # Placed straight from the old arrays: a list of the entries would be a transient peak of some
        # 120 bytes an entry, more than the store itself.
        old_keys, old_offsets = self._keys, self._offsets
        slots = 2 * len(old_keys)
        self._keys = array("q", bytes(8 * slots))
        self._offsets = array("I", bytes(4 * slots))
        self._mask = slots - 1
        self._limit = int(_MAX_LOAD * slots)
        for key, offset in zip(old_keys, old_offsets, strict=True):
            if key != _EMPTY:
                self._place(key, offset)
