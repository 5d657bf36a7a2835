"""Forgiving title search over an in-memory index: pure Python (no Django, no I/O).

Titles are reduced to a search key (case, accents, punctuation and season noise removed:
"Oshi no Ko Season 3" and "【推しの子】 第3期" both keep only the show's name), their words
go in a vocabulary, and a query is matched word by word: exactly, as the start of a word,
or with a typo or two (rapidfuzz, in C: the whole vocabulary of 2,000 anime is compared in
well under a millisecond). catalog/search.py builds one index per catalogue version.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left
from dataclasses import dataclass, field
from typing import NamedTuple

from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA

# Typos allowed per word by its length (as Meilisearch does): short words must be exact,
# or "kafe" would also find "safe", "kage" and "nafe".
ONE_TYPO_FROM = 5
TWO_TYPOS_FROM = 9
# A word of a query this short is matched exactly, never as the start of longer words.
PREFIX_FROM = 2
# Latin text shorter than this is not looked for inside run-together words ("one" is in
# "someone"); Japanese, written without spaces, always is.
SUBSTRING_FROM = 5
# What a word costs: the start of a title's word, and each typo (typing a word's start is
# better than a typo, and any number of starts better than one typo).
PREFIX_COST = 1
TYPO_COST = 100

# Ranking tiers, best first.
EXACT, PREFIX, WORDS, TYPO, PARTIAL = range(5)

_ORDINAL = re.compile(r"^\d+(?:st|nd|rd|th)$")
_SHORT_SEASON = re.compile(r"^s(\d{1,2})$")
_NUMBER = re.compile(r"^\d{1,2}$")
# Japanese season marks: 第3期, 2期, 第二期, シーズン2.
_JA_SEASON = re.compile(r"第?([0-9一二三四五六七八九十]+)期|シーズン\s*([0-9]+)")
_JA_DIGITS = {c: i for i, c in enumerate("〇一二三四五六七八九十")}


def _is_cjk(text: str) -> bool:
    return any(ord(ch) >= 0x2E80 for ch in text)


class _FoldTable(dict[int, str]):
    """str.translate table filled on first sight of each character: accents (combining
    marks) vanish, anything but letters and digits becomes a space. Ten times faster than
    asking unicodedata for every character of 2,000 titles."""

    def __missing__(self, code: int) -> str:
        ch = chr(code)
        if unicodedata.combining(ch):
            value = ""
        else:
            value = ch if unicodedata.category(ch)[0] in "LN" else " "
        self[code] = value
        return value


_FOLD = _FoldTable({ord(ch): "" for ch in "'’`"})


def fold(text: str) -> str:
    """Lower-case, accent-free, punctuation as spaces; apostrophes vanish ("jojo's" =
    "jojos"); full-width letters and digits become plain ones (NFKD)."""
    return unicodedata.normalize("NFKD", text.casefold()).translate(_FOLD)


def _ja_number(text: str) -> int:
    if text.isdigit():
        return int(text)
    return sum(_JA_DIGITS.get(ch, 0) for ch in text) or 1


class Key(NamedTuple):
    words: tuple[str, ...]
    season: int  # 0: none named
    text: str  # the words joined by spaces
    compact: str  # the words run together


def _key(words: tuple[str, ...], season: int) -> Key:
    return Key(words, season, " ".join(words), "".join(words))


def _drop_season(words: list[str]) -> tuple[list[str], int]:
    """Words without "S2", "Season 2", "2nd Season", "Season" (alone), and the number."""
    if "season" not in words and not any(_SHORT_SEASON.match(w) for w in words if w[0] == "s"):
        return words, 0  # most titles: no word-by-word pass
    kept: list[str] = []
    season = 0
    i = 0
    while i < len(words):
        word = words[i]
        nxt = words[i + 1] if i + 1 < len(words) else ""
        if short := _SHORT_SEASON.match(word):
            season = int(short.group(1))
        elif _ORDINAL.match(word) and nxt == "season":
            season = int(re.sub(r"\D", "", word))
            i += 1
        elif word == "season":
            if _NUMBER.match(nxt):
                season = int(nxt)
                i += 1
        else:
            kept.append(word)
        i += 1
    return kept, season


def search_key(text: str) -> Key:
    """The key a title (or a query) is matched on; season noise removed, its number kept
    for ranking. A text of nothing but noise keeps its words (a show called "Season")."""
    season = 0
    match = _JA_SEASON.search(text)
    if match:
        season = _ja_number(match.group(1) or match.group(2))
        text = _JA_SEASON.sub(" ", text)
    words = fold(text).split()
    kept, named = _drop_season(words)
    return _key(tuple(kept or words), named or season)


def typos_allowed(word: str) -> int:
    if _is_cjk(word):
        return 0
    return 2 if len(word) >= TWO_TYPOS_FROM else 1 if len(word) >= ONE_TYPO_FROM else 0


@dataclass
class TitleIndex:
    """Keys of every anime (position = entry number) and the vocabulary of their words."""

    keys: list[tuple[Key, Key]] = field(default_factory=list)  # (title, Japanese title)
    postings: dict[str, list[int]] = field(default_factory=dict)
    vocabulary: list[str] = field(default_factory=list)  # sorted, for prefix lookups
    known: dict[str, Key] = field(default_factory=dict)  # text -> its key, for rebuilds

    @classmethod
    def build(cls, titles: list[tuple[str, str]], previous: TitleIndex | None = None) -> TitleIndex:
        """The index of `titles`; keys of titles `previous` already had are reused (a
        catalogue change touches a few titles: the rest need no folding again)."""
        index = cls()
        known = previous.known if previous else {}
        postings: dict[str, set[int]] = {}
        for number, (title, japanese) in enumerate(titles):
            keys = (
                known.get(title) or search_key(title),
                known.get(japanese) or search_key(japanese),
            )
            index.known[title], index.known[japanese] = keys
            index.keys.append(keys)
            for word in (*keys[0].words, *keys[1].words):
                postings.setdefault(word, set()).add(number)
        index.postings = {word: sorted(found) for word, found in postings.items()}
        index.vocabulary = sorted(postings)
        return index

    def word_costs(self, word: str) -> dict[str, int]:
        """Vocabulary words `word` may stand for, with what each costs: nothing for the
        same word, PREFIX_COST for a word it starts, TYPO_COST per typo."""
        costs = {word: 0} if word in self.postings else {}
        if len(word) >= PREFIX_FROM:
            start = bisect_left(self.vocabulary, word)
            for other in self.vocabulary[start:]:
                if not other.startswith(word):
                    break
                costs.setdefault(other, PREFIX_COST)
        if allowed := typos_allowed(word):
            close = process.extract(
                word, self.vocabulary, scorer=OSA.distance, score_cutoff=allowed, limit=None
            )
            for other, distance, _ in close:
                costs.setdefault(other, TYPO_COST * int(distance))
        return costs

    def entry_costs(self, word: str) -> dict[int, int]:
        found: dict[int, int] = {}
        for other, cost in self.word_costs(word).items():
            for number in self.postings[other]:
                if number not in found or cost < found[number]:
                    found[number] = cost
        return found


class Hit(NamedTuple):
    """Sorts best first: tier, cost, the season asked for, shorter title, title order."""

    tier: int
    cost: int
    season_miss: int
    length: int
    number: int


def _substring_hits(index: TitleIndex, query: Key) -> set[int]:
    """Entries whose compact key holds the query's: "shingekinokyojin", or a piece of a
    Japanese title (its words are not separated by spaces)."""
    needle = query.compact
    if len(needle) < SUBSTRING_FROM and not _is_cjk(needle):
        return set()
    return {
        n
        for n, (title, japanese) in enumerate(index.keys)
        if needle in title.compact or (japanese.words and needle in japanese.compact)
    }


def _japanese_near_hits(index: TitleIndex, query: Key) -> dict[int, int]:
    """A Japanese query with one wrong character: the Japanese titles holding the query
    but for it (partial_ratio aligns the query on the best part of each title, in C)."""
    needle = query.compact
    if not _is_cjk(needle) or len(needle) < 3:
        return {}
    titles = [japanese.compact for _title, japanese in index.keys]
    cutoff = 100 * (len(needle) - 1) / len(needle) - 0.01
    close = process.extract(
        needle, titles, scorer=fuzz.partial_ratio, score_cutoff=cutoff, limit=None
    )
    return {number: TYPO_COST for _text, _score, number in close if titles[number]}


def _word_hits(index: TitleIndex, query: Key) -> tuple[dict[int, int], dict[int, int]]:
    """(entries matching every word with their summed cost, entries missing just one word
    of a query of three or more)."""
    per_word = [index.entry_costs(word) for word in query.words]
    counts: dict[int, int] = {}
    costs: dict[int, int] = {}
    for found in per_word:
        for number, cost in found.items():
            counts[number] = counts.get(number, 0) + 1
            costs[number] = costs.get(number, 0) + cost
    need = len(per_word)
    full = {n: costs[n] for n, c in counts.items() if c == need}
    partial = {n: costs[n] for n, c in counts.items() if c == need - 1} if need >= 3 else {}
    return full, partial


def _tier(keys: tuple[Key, Key], query: Key, cost: int) -> int:
    text = query.text
    if text in (keys[0].text, keys[1].text):
        return EXACT
    if keys[0].text.startswith(text) or (keys[1].words and keys[1].text.startswith(text)):
        return PREFIX
    return WORDS if cost < TYPO_COST else TYPO


def _season_miss(keys: tuple[Key, Key], query: Key) -> int:
    season = keys[0].season or keys[1].season
    if query.season:
        return int(season != query.season)
    return int(season > 1)


def match(index: TitleIndex, text: str) -> list[int]:
    """Entry numbers matching `text`, best first: exact, then prefix, then every word
    found, then with typos, then all words but one; within a tier fewer typos, the named
    season (or the first), shorter titles first."""
    query = search_key(text)
    if not query.words:
        return []
    full, partial = _word_hits(index, query)
    for number in _substring_hits(index, query):
        full[number] = min(full.get(number, PREFIX_COST), PREFIX_COST)
    if not full:
        full = _japanese_near_hits(index, query)
    hits = [
        _hit(index.keys[n], query, n, cost, _tier(index.keys[n], query, cost))
        for n, cost in full.items()
    ]
    if not hits:
        hits = [_hit(index.keys[n], query, n, cost, PARTIAL) for n, cost in partial.items()]
    return [hit.number for hit in sorted(hits)]


def _hit(keys: tuple[Key, Key], query: Key, number: int, cost: int, tier: int) -> Hit:
    return Hit(tier, cost, _season_miss(keys, query), len(keys[0].text), number)
