"""The one "did you mean" rule: every unknown name the project reports is matched the same way.

A suggestion is only worth printing when it is what the user most likely meant: a typo (a letter
dropped, doubled, swapped or changed), not merely the least different name. So a candidate must
reach ``CUTOFF`` on difflib's similarity ratio, compared case-insensitively; when none does, the
hint lists what is allowed instead. Measured on the project's own names: ``robt``/``robot`` 0.89,
``rian``/``rain`` 0.75, ``stomp``/``step`` 0.67 are suggested; ``troll``/``neutral`` 0.50,
``hum``/``drum`` 0.57 are not.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

CUTOFF = 0.6
"""Least similarity ratio (2 * matches / total length, case-folded) for a suggestion."""

LIST_AT_MOST = 12
"""Names listed when nothing is close; longer lists end in '...'."""


def close_match(word: object, choices: Iterable[str]) -> str | None:
    """The candidate ``word`` most likely misspells (as spelt in ``choices``), or None."""
    names = [str(c) for c in choices]
    folded: dict[str, str] = {}
    for name in names:
        folded.setdefault(name.casefold(), name)
    got = difflib.get_close_matches(str(word).casefold(), list(folded), n=1, cutoff=CUTOFF)
    return folded[got[0]] if got else None


def suggestion(word: object, choices: Iterable[str]) -> str:
    """``did you mean 'x'?`` for a close candidate, else an empty string."""
    close = close_match(word, choices)
    return f"did you mean {close!r}?" if close is not None else ""


def listing(choices: Iterable[str]) -> str:
    """The candidates, sorted, comma-separated, at most ``LIST_AT_MOST`` of them."""
    names = sorted(str(c) for c in choices)
    shown = ", ".join(names[:LIST_AT_MOST])
    return shown + (" ..." if len(names) > LIST_AT_MOST else "")


def did_you_mean(word: object, choices: Iterable[str], what: str = "") -> str:
    """A hint: the close candidate, or else what is allowed (``"<what>: a, b, c"``)."""
    names = list(choices)
    hint = suggestion(word, names)
    if hint:
        return hint
    if not names:
        return f"no {what} are declared" if what else ""
    return f"{what or 'allowed'}: {listing(names)}"
