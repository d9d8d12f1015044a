"""The empty-shell hint: does a static capture look like a page that a browser's scripts would fill?

Page builders and single-page frameworks send a near-empty document — a root element for the
framework to mount into, script tags, perhaps a ``<noscript>`` asking for JavaScript — and write the
text (the claims) only when the scripts run. Such a capture reads as an empty or near-empty page: the
check records why it looks like a shell and suggests ``--render``. The decision, on the raw HTML and
the extracted main text:

- little text: fewer than ``SHELL_TEXT_CHARS`` characters of main text; and
- at least one sign of a script-built page: a known framework mount point (``#root``, ``#app``,
  ``#__next``, ``#__nuxt``, ``#___gatsby``, ``<app-root>``, ``ng-app``, ``data-reactroot``...), a
  ``<noscript>`` that asks for JavaScript, or script bytes outweighing the text many times over.

Pure: bytes and text in, a one-line hint or None out.
"""

from __future__ import annotations

import re

SHELL_TEXT_CHARS = 200
SCRIPT_TEXT_RATIO = 20  # script bytes per character of text that make a page "mostly script"
_MIN_SCRIPT_BYTES = 2000
_MOUNT_POINT = re.compile(
    rb"""<(?:div|main|body|section)\b[^>]*\bid\s*=\s*["']?(root|app|__next|__nuxt|___gatsby|svelte|q-app|react-root)["'\s>]"""
    rb"""|<(app-root)\b|\b(ng-app|data-reactroot|data-server-rendered|data-v-app)\b""",
    re.IGNORECASE,
)
_NOSCRIPT = re.compile(rb"<noscript\b[^>]*>(.*?)</noscript>", re.IGNORECASE | re.DOTALL)
_ASKS_FOR_JS = re.compile(
    r"javascript|enable\s+js|ジャバスクリプト|スクリプトを有効",
    re.IGNORECASE,
)
_SCRIPT = re.compile(rb"<script\b[^>]*>(.*?)</script>", re.IGNORECASE | re.DOTALL)
_SCRIPT_SRC = re.compile(rb"<script\b[^>]*\bsrc\s*=", re.IGNORECASE)


def shell_signs(html: bytes, text: str) -> list[str]:
    """The signs of a script-built page in ``html`` whose main text is ``text`` (empty if none, or if
    the text is long enough to be the page itself)."""
    length = len(text.strip())
    if length >= SHELL_TEXT_CHARS:
        return []
    signs: list[str] = []
    mount = _MOUNT_POINT.search(html)
    if mount:
        name = next(group for group in mount.groups() if group).decode("ascii", "replace")
        signs.append(f"framework mount point {name}")
    if any(_ASKS_FOR_JS.search(body.decode("utf-8", "replace")) for body in _NOSCRIPT.findall(html)):
        signs.append("<noscript> asks for JavaScript")
    script_bytes = sum(len(body) for body in _SCRIPT.findall(html))
    external = len(_SCRIPT_SRC.findall(html))
    if script_bytes >= max(_MIN_SCRIPT_BYTES, SCRIPT_TEXT_RATIO * length) or (external >= 3 and length < 50):
        signs.append(f"scripts outweigh the text ({script_bytes} inline bytes, {external} external)")
    return signs


def shell_hint(html: bytes, text: str) -> str | None:
    """One line for the check when the capture looks like an empty JavaScript shell, else None."""
    signs = shell_signs(html, text)
    if not signs:
        return None
    return (
        f"looks like a JavaScript shell ({len(text.strip())} characters of text; {'; '.join(signs)}): "
        "a browser would fill it, try `watcher sources set SOURCE --render`"
    )
