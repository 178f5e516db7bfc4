"""English letter-to-sound rules: text -> phoneme tokens with stress and phrase marks.

Rough by design (a game character's line, not a dictionary-grade reader): a small exception list for
the commonest irregular words, then longest-match grapheme rules with a little context (magic e,
soft c/g, final y, voiced s between vowels). Unknown characters are dropped; digits are read out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .phonemes import VOWELS


@dataclass(frozen=True)
class Token:
    """One phoneme of the line. ``stress``: 1 on a word's main vowel; ``final``: last syllable of a
    phrase (lengthened, where the pitch falls or rises); ``question``: the phrase ends with '?'."""

    ph: str
    stress: int = 0
    word: int = 0
    final: bool = False
    question: bool = False


EXCEPTIONS: dict[str, str] = {
    "a": "AX",
    "the": "DH AX",
    "of": "AX V",
    "to": "T UW",
    "you": "Y UW",
    "your": "Y AO R",
    "i": "AY",
    "is": "IH Z",
    "are": "AA R",
    "was": "W AA Z",
    "one": "W AH N",
    "two": "T UW",
    "said": "S EH D",
    "have": "HH AE V",
    "has": "HH AE Z",
    "what": "W AH T",
    "there": "DH EH R",
    "where": "W EH R",
    "who": "HH UW",
    "do": "D UW",
    "does": "D AH Z",
    "be": "B IY",
    "he": "HH IY",
    "she": "SH IY",
    "we": "W IY",
    "me": "M IY",
    "my": "M AY",
    "by": "B AY",
    "they": "DH EY",
    "hello": "HH AX L OW",
    "world": "W ER L D",
    "eye": "AY",
    "come": "K AH M",
    "some": "S AH M",
    "done": "D AH N",
    "gone": "G AO N",
    "love": "L AH V",
    "move": "M UW V",
    "give": "G IH V",
    "live": "L IH V",
    "have_": "HH AE V",
    "friend": "F R EH N D",
    "people": "P IY P AX L",
    "water": "W AO T ER",
    "could": "K UH D",
    "would": "W UH D",
    "should": "SH UH D",
    "any": "EH N IY",
    "many": "M EH N IY",
    "again": "AX G EH N",
    "here": "HH IY R",
    "were": "W ER",
    "from": "F R AH M",
    "this": "DH IH S",
    "that": "DH AE T",
    "with": "W IH DH",
    "and": "AE N D",
    "or": "AO R",
    "no": "N OW",
    "go": "G OW",
    "so": "S OW",
    "oh": "OW",
    "yes": "Y EH S",
    "beware": "B IY W EH R",
    "ogre": "OW G ER",
    "robot": "R OW B AA T",
    "ghost": "G OW S T",
    "radio": "R EY D IY OW",
    "child": "CH AY L D",
    "every": "EH V R IY",
    "only": "OW N L IY",
    "over": "OW V ER",
}
FUNCTION_WORDS = frozenset(
    [
        "a",
        "the",
        "of",
        "to",
        "is",
        "are",
        "was",
        "and",
        "or",
        "in",
        "on",
        "at",
        "it",
        "be",
        "he",
        "she",
        "we",
        "me",
        "my",
        "by",
        "an",
        "as",
        "for",
    ]
)

# (grapheme, phonemes, condition) — condition on the following letters; tried longest first.
_RULES: list[tuple[str, str]] = [
    ("tion", "SH AX N"),
    ("sion", "ZH AX N"),
    ("ough", "AO"),
    ("augh", "AO"),
    ("eigh", "EY"),
    ("igh", "AY"),
    ("tch", "CH"),
    ("dge", "JH"),
    ("sch", "S K"),
    ("chr", "K R"),
    ("ch", "CH"),
    ("sh", "SH"),
    ("th", "TH"),
    ("ph", "F"),
    ("wh", "W"),
    ("ck", "K"),
    ("ng", "NG"),
    ("qu", "K W"),
    ("kn", "N"),
    ("wr", "R"),
    ("gh", ""),
    ("ee", "IY"),
    ("ea", "IY"),
    ("oo", "UW"),
    ("ou", "AW"),
    ("oa", "OW"),
    ("ai", "EY"),
    ("ay", "EY"),
    ("oi", "OY"),
    ("oy", "OY"),
    ("au", "AO"),
    ("aw", "AO"),
    ("ew", "UW"),
    ("ue", "UW"),
    ("ie", "IY"),
    ("ei", "IY"),
    ("ey", "IY"),
    ("ar", "AA R"),
    ("er", "ER"),
    ("ir", "ER"),
    ("ur", "ER"),
    ("or", "AO R"),
    ("ow", "OW"),
    ("a", "AE"),
    ("e", "EH"),
    ("i", "IH"),
    ("o", "AA"),
    ("u", "AH"),
    ("y", "IH"),
    ("b", "B"),
    ("c", "K"),
    ("d", "D"),
    ("f", "F"),
    ("g", "G"),
    ("h", "HH"),
    ("j", "JH"),
    ("k", "K"),
    ("l", "L"),
    ("m", "M"),
    ("n", "N"),
    ("p", "P"),
    ("r", "R"),
    ("s", "S"),
    ("t", "T"),
    ("v", "V"),
    ("w", "W"),
    ("x", "K S"),
    ("z", "Z"),
]
_LONG = {"a": "EY", "e": "IY", "i": "AY", "o": "OW", "u": "UW", "y": "AY"}
_VOWEL_LETTERS = set("aeiouy")
_ONES = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_TENS = ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]


def number_words(n: int) -> str:
    """0..999999 in words; longer numbers are read digit by digit."""
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else " " + _ONES[n % 10])
    if n < 1000:
        rest = n % 100
        return _ONES[n // 100] + " hundred" + ("" if rest == 0 else " and " + number_words(rest))
    if n < 1_000_000:
        rest = n % 1000
        return number_words(n // 1000) + " thousand" + ("" if rest == 0 else " " + number_words(rest))
    return " ".join(_ONES[int(d)] for d in str(n))


def word_to_phonemes(word: str) -> list[str]:
    """Phonemes of one lower-case alphabetic word."""
    if word in EXCEPTIONS:
        return EXCEPTIONS[word].split()
    out: list[str] = []
    w = word
    n = len(w)
    # magic e: vowel + one consonant + final e (make, time, home, cute)
    magic = n >= 3 and w[-1] == "e" and w[-2] not in _VOWEL_LETTERS and w[-3] in _VOWEL_LETTERS
    i = 0
    while i < n:
        ch = w[i]
        if i == n - 1 and ch == "e" and n > 2:
            break  # final e is silent
        if magic and i == n - 3 and ch in _LONG:
            out.append(_LONG[ch])
            i += 1
            continue
        if ch == "y" and i == 0:
            out.append("Y")
            i += 1
            continue
        if ch == "y" and i == n - 1:
            out.append("AY" if n <= 3 else "IY")
            i += 1
            continue
        if ch == "c" and i + 1 < n and w[i + 1] in "eiy":
            out.append("S")
            i += 1
            continue
        if ch == "g" and i + 1 < n and w[i + 1] in "eiy" and i > 0:
            out.append("JH")
            i += 1
            continue
        if ch == "s" and 0 < i < n - 1 and w[i - 1] in _VOWEL_LETTERS and w[i + 1] in _VOWEL_LETTERS:
            out.append("Z")
            i += 1
            continue
        if ch == "l" and i == n - 2 and w[-1] == "e" and i > 0 and w[i - 1] not in _VOWEL_LETTERS:
            out += ["AX", "L"]  # table, little
            break
        if i > 0 and ch == w[i - 1] and ch not in _VOWEL_LETTERS:
            i += 1  # double consonant reads once
            continue
        for g, ph in _RULES:
            if w.startswith(g, i):
                out += ph.split()
                i += len(g)
                break
        else:
            i += 1
    if out and out[-1] == "S" and len(out) > 1 and out[-2] not in ("P", "T", "K", "F", "TH", "S", "SH"):
        out[-1] = "Z"  # dogs, runs
    return out


_WORD_RE = re.compile(r"[a-z]+|\d+|[.,!?;:]")
_SPOKEN_RE = re.compile(r"[a-z]+|\d+")


def pronounceable(text: str) -> bool:
    """Whether :func:`text_to_tokens` finds anything to say in ``text`` (a number, or a word with a
    phoneme), stopping at the first: the network process runs it on every `say` before it replies."""
    for m in _SPOKEN_RE.finditer(text.lower().replace("'", "")):
        if m.group()[0].isdigit() or word_to_phonemes(m.group()):
            return True
    return False


def text_to_tokens(text: str) -> list[Token]:
    """The whole line as phoneme tokens, with pauses for punctuation and phrase-final marks."""
    parts = _WORD_RE.findall(text.lower().replace("'", ""))
    words: list[str] = []
    for p in parts:
        if p.isdigit():
            words += number_words(int(p)).split()
        else:
            words.append(p)
    tokens: list[Token] = []
    phrase: list[Token] = []

    def close(mark: str) -> None:
        if not phrase:
            return
        q = mark == "?"
        last_v = max((k for k, t in enumerate(phrase) if t.ph in VOWELS), default=-1)
        for k, t in enumerate(phrase):
            tokens.append(Token(t.ph, t.stress, t.word, k >= last_v >= 0 and t.ph in VOWELS, q))
        tokens.append(Token("." if mark in ".!?" else ","))
        phrase.clear()

    for wi, w in enumerate(words):
        if w in ".!?;:,":
            close("." if w in ".!;:" else w)
            continue
        phs = word_to_phonemes(w)
        stressed = False
        for ph in phs:
            s = 0
            if ph in VOWELS and not stressed and w not in FUNCTION_WORDS:
                s, stressed = 1, True
            phrase.append(Token(ph, s, wi))
    close(".")
    return tokens
