"""E-mail address checks, kept free of heavy imports: settings validation uses them at start-up."""

from __future__ import annotations

import re

from watcher.errors import InputError

_LOCAL = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


def check_email(address: str, *, single_label_domain: bool = False) -> str:
    """A plain ``local@domain`` address (ASCII, no display name), with the domain lower-cased.

    Deliberately strict: a typo found when subscribing beats a bounce nobody reads.
    """
    text = address.strip()
    problem = _email_problem(text, single_label_domain=single_label_domain)
    if problem:
        raise InputError(f"invalid e-mail address {address!r}: {problem}")
    local, domain = text.rsplit("@", 1)
    return f"{local}@{domain.lower()}"


def _email_problem(text: str, *, single_label_domain: bool) -> str | None:
    if not text:
        return "empty"
    if len(text) > 254:
        return "longer than 254 characters"
    if text.count("@") != 1:
        return "expected exactly one @, as in name@example.org"
    local, domain = text.split("@")
    if not local or len(local) > 64 or not _LOCAL.match(local):
        return "the part before @ is empty, too long or has characters not allowed there"
    labels = domain.split(".")
    if not all(_LABEL.match(label) for label in labels):
        return f"{domain!r} is not a valid domain name"
    if len(labels) < 2 and not single_label_domain:
        return f"the domain {domain!r} has no dot"
    return None
