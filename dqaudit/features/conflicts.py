"""When near-identical texts with different labels are a label conflict: they ask the same thing.

Near-duplicate clustering (Jaccard >= 0.7 on character 4-grams) also joins short texts
that differ in exactly the word that justifies their labels: "Where is my card?" /
"Where is my card PIN?", "exchange rate" / "exchange fee". Those are two good
examples, not an inconsistent guide. Two texts *ask the same thing* when, after

1. NFKC, apostrophes removed ("can't" = "cant"), every run of non-word characters a
   space (punctuation, hyphens, whitespace), then case folded;
2. numbers (digits or number words) read as ``<num>``; names read as ``<name>``: a
   Title-case word inside a sentence (not its first word, and not when most of the
   text is Title-case) or a country/currency code such as ``US``/``EUR``;
3. filler dropped: greetings, politeness and request framing ("hi", "please",
   "thanks", "can you tell me"), articles and possessives, and a few intensifiers, in
   English, Russian and Kazakh (:data:`FILLER`);

their remaining words are the same multiset, up to typos: a word of 4+ letters that
is one edit (insert, delete, substitute, swap of neighbours) from a word on the other
side, or two edits for words of 8+ letters that start with the same letter (typos are
paired before filler is dropped, so "awnt" pairs with "want"). Negations ("not",
"cant", "не") are never filler and never a typo of another word. A text with 10 or
more content words may differ in one content word per 10 (a dropped word does not
make a long request ask something else); shorter texts may not differ in any: on
banking77, allowing one in 8 turned "top up with cash" / "with Google Pay" into a
conflict (``allowed_differences``).
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left
from collections import Counter
from collections.abc import Sequence

from ..parallel import fork_map

#: Words that never carry an intent: greetings, politeness, request framing, articles, intensifiers.
FILLER = frozenset(
    """
a an the my your our his her their its this that these those some me i you we us it
hi hello hey hiya dear greetings good morning afternoon evening day sir madam team
please pls plz kindly thanks thank thx ty cheers sorry appreciate appreciated advance
can could would may tell show explain know wondering wonder want like id ill im
just really very actually now again urgently urgent asap quickly
здравствуйте добрый день вечер утро доброе привет спасибо заранее пожалуйста подскажите скажите
помогите буду признателен признательна благодарен благодарна срочно очень уже снова мне мой моя моё мои я вы
сәлеметсіз бе қайырлы күн сәлем рахмет өтінемін тез қазір тағы әлі менің мен сіз
""".split()
)
#: Negations: never dropped, never read as a typo of another word.
NEGATIONS = frozenset(
    "not no never cant cannot dont doesnt didnt wont isnt arent wasnt havent hasnt "
    "couldnt wouldnt shouldnt nothing none не нет ни жоқ емес".split()
)
NUMBER_WORDS = frozenset(
    "zero one two three four five six seven eight nine ten eleven twelve twenty thirty "
    "forty fifty hundred thousand million".split()
)
#: Upper-case codes read as names: countries and currencies people mention in requests.
CODES = frozenset("US USA UK EU UAE GB USD EUR GBP RUB KZT CNY JPY CHF AUD CAD".split())
_WORD = re.compile(r"\w+")
_SENTENCE_END = re.compile(r"[.!?…]")
#: Content words a longer text may differ in: one per this many words left after filler.
WORDS_PER_DIFFERENCE = 10
#: Member texts from which :func:`conflicting` forks worker processes (below it forking costs more).
PARALLEL_MIN_TEXTS = 20_000


def words(text: str) -> list[str]:
    """The canonical words of ``text`` (steps 1-2 of the module doc; filler is still in).

    Whole-list passes, with word positions read only for the Title-case words that may be names:
    the conflict rule reads every text of every multi-label cluster (~100k texts at 1M rows).
    """
    text = unicodedata.normalize("NFKC", text).replace("'", "").replace("’", "")
    tokens = _WORD.findall(text)
    out = ["<num>" if f.isdigit() or f in NUMBER_WORDS else f for f in (t.casefold() for t in tokens)]
    titles = [k for k, t in enumerate(tokens) if t.istitle()]
    names = [k for k, t in enumerate(tokens) if t in CODES]
    if len(titles) * 2 <= len(tokens):  # names are allowed: most of the text is not Title-case
        inside = [k for k in titles if k and len(tokens[k]) > 1]
        if inside:
            spans = [m.span() for m in _WORD.finditer(text)]
            ends = [m.start() for m in _SENTENCE_END.finditer(text)]  # a sentence end between two words
            names += [k for k in inside if not _starts_sentence(k, spans[k - 1][1], spans[k][0], ends)]
    for k in names:
        if out[k] != "<num>":
            out[k] = "<name>"
    # "John Smith": one name
    return [w for k, w in enumerate(out) if not (k and w[0] == "<" and out[k - 1] == w)]


def _starts_sentence(k: int, previous_end: int, start: int, ends: list[int]) -> bool:
    """Whether word ``k`` (from ``start``; the previous word ended at ``previous_end``) begins a sentence:
    it is the first, or a sentence end (positions ``ends``, sorted) lies between the two words."""
    if k == 0:
        return True
    at = bisect_left(ends, previous_end)
    return at < len(ends) and ends[at] < start


def _edits(a: str, b: str, limit: int) -> int:
    """Optimal-string-alignment distance of ``a`` and ``b``; ``limit + 1`` once it must exceed ``limit``."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        row = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            row[j] = min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1]))
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                row[j] = min(row[j], prev2[j - 2] + 1)
        if min(row) > limit:
            return limit + 1
        prev2, prev = prev, row
    return prev[-1]


def is_typo(a: str, b: str) -> bool:
    """One edit between words of 4+ letters; two between words of 8+ letters that start alike.

    Never for negations or placeholders: "cant" is not a typo of "want". "reactivate" is
    not one of "activate" (two edits at the start).
    """
    la, lb = len(a), len(b)
    if la < 4 or lb < 4 or la - lb > 2 or lb - la > 2:  # more than two letters apart: more than two edits
        return False
    if a in NEGATIONS or b in NEGATIONS or a[0] == "<" or b[0] == "<":
        return False
    return _edits(a, b, 2) <= 2 if (la >= 8 or lb >= 8) and a[0] == b[0] else _one_edit(a, b)


def _one_edit(a: str, b: str) -> bool:
    """``_edits(a, b, 1) <= 1`` without the table: equal, or one substitution, insertion, deletion or swap
    of neighbours."""
    if len(a) < len(b):
        a, b = b, a
    if len(a) - len(b) > 1:
        return False
    i = 0
    while i < len(b) and a[i] == b[i]:
        i += 1
    if len(a) != len(b):
        return a[i + 1:] == b[i:]  # one deletion from the longer
    if i == len(a):
        return True
    return a[i + 1:] == b[i + 1:] or (a[i + 1:i + 2] == b[i:i + 1] and a[i] == b[i + 1:i + 2]
                                      and a[i + 2:] == b[i + 2:])


def allowed_differences(words: int) -> int:
    """Content words two texts of ``words`` canonical words may differ in and still ask the same thing."""
    return words // WORDS_PER_DIFFERENCE


def differing_words(a: Sequence[str], b: Sequence[str]) -> tuple[list[str], list[str]]:
    """The words only one side has, typos paired off (each word once); filler, numbers and names dropped."""
    count_a, count_b = Counter(a), Counter(b)
    only_a = list((count_a - count_b).elements())
    only_b = list((count_b - count_a).elements())
    left: list[str] = []
    for word in only_a:
        match = next((k for k, other in enumerate(only_b) if is_typo(word, other)), None)
        if match is None:
            left.append(word)
        else:
            only_b.pop(match)
    if "".join(sorted(left)) == "".join(sorted(only_b)) or "".join(left) == "".join(only_b):
        return [], []  # a split or joined word: "top up" / "topup"
    return [w for w in left if w not in FILLER and w[0] != "<"], [
        w for w in only_b if w not in FILLER and w[0] != "<"
    ]


def same_request(a: str, b: str) -> bool:
    """Do texts ``a`` and ``b`` ask the same thing (differ only in form, not in content words)?"""
    return _same_words(words(a), words(b))


def _same_words(wa: list[str], wb: list[str]) -> bool:
    """:func:`same_request` on the texts' :func:`words`."""
    if wa == wb:
        return True
    left, right = differing_words(wa, wb)
    if {*left, *right} & NEGATIONS:
        return False
    content = min(sum(w not in FILLER for w in wa), sum(w not in FILLER for w in wb))
    return max(len(left), len(right)) <= allowed_differences(content)


def has_conflict(texts: Sequence[str], labels: Sequence[object], limit: int = 64) -> bool:
    """Do two members with different labels ask the same thing?

    Compares at most ``limit`` distinct texts per label, so a huge template cluster
    costs at most ``limit``² comparisons per pair of labels. Texts are taken one label
    after another in turn, each compared with the other labels' texts taken before it, so
    a conflict is usually found after a few texts' words; texts whose content words (not
    filler, numbers or names) are the same multiset ask the same thing without comparing.
    """
    by_label: dict[object, dict[str, None]] = {}  # each label's distinct texts, in order
    for text, label in zip(texts, labels, strict=True):
        if label is None or label != label:  # unlabelled rows cannot conflict
            continue
        seen = by_label.setdefault(label, {})
        if len(seen) < limit:
            seen[text] = None
    rank = {label: k for k, label in enumerate(sorted(by_label, key=str))}  # pairs compared in label order
    label_of_key: dict[tuple[str, ...], object] = {}
    taken: list[tuple[list[str], object]] = []
    lists = {label: list(seen) for label, seen in by_label.items()}
    for k in range(max(map(len, lists.values()), default=0)):
        for label, items in lists.items():
            if k >= len(items):
                continue
            mine = words(items[k])
            key = tuple(sorted(w for w in mine if w not in FILLER and w[0] != "<"))
            if label_of_key.setdefault(key, label) != label:
                return True  # nothing but filler, numbers and names differ: differing_words finds none
            for theirs, other in taken:
                if other != label and (_same_words(theirs, mine) if rank[other] < rank[label]
                                       else _same_words(mine, theirs)):
                    return True
            taken.append((mine, label))
    return False


def conflicting(clusters: Sequence[tuple[list[str], list[object]]], workers: int) -> list[bool]:
    """:func:`has_conflict` of each ``(texts, labels)`` cluster, in order.

    The rule is pure Python (~0.25 ms a cluster: 22,000 mixed-label clusters at 1M rows), so with
    :data:`PARALLEL_MIN_TEXTS` member texts or more the clusters are cut into runs of about equal text
    counts and spread over forked workers (:func:`~dqaudit.parallel.fork_map`); the verdicts are the same.
    """
    sizes = [len(texts) for texts, _ in clusters]
    total = sum(sizes)
    if total < PARALLEL_MIN_TEXTS or workers < 2:
        return _run_conflicts(clusters)
    runs: list[Sequence[tuple[list[str], list[object]]]] = []
    start = held = 0
    for k, size in enumerate(sizes):
        held += size
        if held * workers * 4 >= total or k == len(sizes) - 1:  # ~4 runs per worker, for balance
            runs.append(clusters[start:k + 1])
            start, held = k + 1, 0
    return [verdict for run in fork_map(_run_conflicts, runs, workers) for verdict in run]


def _run_conflicts(clusters: Sequence[tuple[list[str], list[object]]]) -> list[bool]:
    """:func:`has_conflict` over one run of clusters: one work item of :func:`conflicting`."""
    return [has_conflict(texts, labels) for texts, labels in clusters]
