"""Follow-up resolution: turn the last user message of a conversation into a question that stands alone.

Pure string rules, no model and no knowledge of the corpus:

* a question that can stand alone is returned as is;
* a follow-up ("and X?", "what about X?", "how about X?", a bare fragment, or a question whose
  pronoun (its/their/it/they/there/...) has no named entity of its own) is rewritten against the
  previous user question (itself resolved first, so chains of follow-ups work):

  - the follow-up names only a new entity ("and Chile?")  -> the previous question with its
    entity replaced by the new one;
  - the follow-up names a new topic ("what about its budget?") -> the previous question's
    interrogative head ("What is") + the new topic, with the pronoun replaced by the previous entity;
  - the follow-up adds a qualifier ("what about in 2024?") -> the previous question + qualifier,
    unless it names what the previous question had after a preposition ("... for Germany?" +
    "and for Chile?"), which it then replaces;
  - a pronoun in a full question is replaced by the previous question's entity.

Talk ("thanks!", "ok great") stands alone and is never an antecedent. After a question that asks for
a name ("Which nation ...?", "Who said ...?"), a pronoun means the name the assistant's reply gave.

Entities are proper-noun-like tokens: capitalised words or acronyms that are not at the start of
the sentence or are not function words.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rag.reply import Turn

__all__ = ["asks_for_more", "entities", "is_talk", "more_requests", "needs_context", "standalone_question"]

_WH = {"what", "which", "who", "whom", "whose", "where", "when", "why", "how"}
_AUX = {
    "is",
    "are",
    "was",
    "were",
    "am",
    "do",
    "does",
    "did",
    "will",
    "would",
    "can",
    "could",
    "should",
    "shall",
    "may",
    "might",
    "must",
    "has",
    "have",
    "had",
}
_COPULA = {"is", "are", "was", "were"}
# words that open a subject: after "will" / "did" they mean the wh-phrase before was not the subject
_SUBJECT_WORDS = {
    "the",
    "a",
    "an",
    "this",
    "that",
    "these",
    "those",
    "his",
    "her",
    "its",
    "their",
    "our",
    "my",
    "your",
    "he",
    "she",
    "it",
    "they",
    "we",
    "you",
    "i",
}
_CONNECTORS = (
    "what about",
    "how about",
    "what of",
    "and what about",
    "and how about",
    "and",
    "also",
    "same for",
    "same question for",
    "ok and",
    "okay and",
    "then",
)
_POSSESSIVE_PRONOUNS = {"its", "their", "his", "her"}
_OBJECT_PRONOUNS = {"it", "they", "them", "him", "she", "he"}
_PLACE_PRONOUNS = {"there"}
_PRONOUNS = _POSSESSIVE_PRONOUNS | _OBJECT_PRONOUNS | _PLACE_PRONOUNS
_PREPOSITIONS = {
    "in",
    "on",
    "at",
    "for",
    "during",
    "with",
    "by",
    "from",
    "to",
    "since",
    "after",
    "before",
    "under",
    "over",
    "about",
    "regarding",
    "within",
    "between",
}
_DETERMINERS = {
    "the",
    "a",
    "an",
    "this",
    "that",
    "these",
    "those",
    "its",
    "their",
    "his",
    "her",
    "my",
    "our",
    "your",
    "some",
    "any",
    "each",
    "every",
}
# Capitalised words that are not names when they open a sentence or stand alone.
_STOP_CAPS = (
    _WH
    | _AUX
    | _PRONOUNS
    | _PREPOSITIONS
    | _DETERMINERS
    | {
        "and",
        "or",
        "but",
        "also",
        "then",
        "so",
        "i",
        "please",
        "tell",
        "me",
        "give",
        "list",
        "name",
        "explain",
        "describe",
        "show",
        "same",
        "ok",
        "okay",
        "yes",
        "no",
        "too",
        "now",
        "again",
    }
)
_FILLER = {"then", "too", "also", "instead", "please", "now", "again", "as", "well"}
# A turn made only of these is talk, not a question: "thanks!", "ok great", "hi". It stands alone
# (and finds nothing to answer) rather than being grafted onto the previous question.
_SOCIAL = {
    "thanks",
    "thank",
    "you",
    "thx",
    "ty",
    "cheers",
    "ok",
    "okay",
    "k",
    "great",
    "cool",
    "nice",
    "good",
    "perfect",
    "awesome",
    "got",
    "it",
    "understood",
    "i",
    "see",
    "hi",
    "hello",
    "hey",
    "bye",
    "goodbye",
    "sure",
    "yes",
    "no",
    "yeah",
    "yep",
    "nope",
    "alright",
    "fine",
    "wow",
    "very",
    "much",
    "a",
    "lot",
    "so",
}
# "Tell me more" asks the previous question again (the passages beside its answer are what "more" is).
_MORE = re.compile(
    r"^(please,?\s+)?(tell me more|more|go on|continue|more details|more detail|details|explain more|"
    r"elaborate|can you elaborate|and|what else|anything else|and then|keep going)(,?\s+please)?$",
    re.IGNORECASE,
)

_WORD = re.compile(r"[A-Za-z0-9][\w\-]*")
# "Is it true that ...?": an "it" before one of these stands for the clause after it, not for a thing.
_EXTRAPOSED = {
    "true",
    "possible",
    "likely",
    "unlikely",
    "clear",
    "unclear",
    "known",
    "said",
    "reported",
    "expected",
    "necessary",
    "important",
    "certain",
    "worth",
}


def _strip_possessive(word: str) -> str:
    return re.sub(r"['’]s$", "", word)


def _words(text: str) -> list[str]:
    return _WORD.findall(text)


def entities(text: str) -> list[str]:
    """Proper-noun-like phrases of ``text`` in order: runs of capitalised words / acronyms, possessive
    marks dropped ("Norway's" -> "Norway"). The first word counts only if it is not a function word."""
    out: list[str] = []
    run: list[str] = []
    # "Deaf/HoH", "TCP/IP": one name across a slash
    tokens = re.findall(r"[A-Za-z0-9][\w\-]*(?:/[A-Za-z0-9][\w\-]*)*(?:['’]s)?|[^\s\w]", text)
    for _i, tok in enumerate(tokens):
        bare = _strip_possessive(tok)
        is_cap = bool(bare) and (bare[0].isupper() or (len(bare) > 1 and bare.isupper()))
        if is_cap and bare.lower() in _STOP_CAPS:
            is_cap = False
        if is_cap:
            run.append(bare)
            if bare != tok:  # a possessive closes the name
                out.append(" ".join(run))
                run = []
        else:
            if run:
                out.append(" ".join(run))
                run = []
    if run:
        out.append(" ".join(run))
    return out


def _strip_connector(text: str) -> tuple[str | None, str]:
    """(connector, rest) when ``text`` opens with a follow-up connector, else (None, text)."""
    low = text.lower()
    for c in sorted(_CONNECTORS, key=len, reverse=True):
        if low == c or low.startswith(c + " ") or low.startswith(c + ","):
            return c, text[len(c) :].lstrip(" ,")
    return None, text


def _clean(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _body(text: str) -> str:
    """The question without its final punctuation."""
    return _clean(text).rstrip(" ?.!")


def _extraposed(next_word: str) -> bool:
    """Whether an "it" followed by ``next_word`` stands for a clause ("Is it true that ...?")."""
    return next_word.lower().strip("?,.!") in _EXTRAPOSED


def _first_pronoun(words: list[str]) -> int:
    """Index of the first pronoun of ``words`` (lower-cased) that points outside the question, else -1."""
    for i, w in enumerate(words):
        if w in _PRONOUNS:
            if w == "it" and _extraposed(words[i + 1] if i + 1 < len(words) else ""):
                continue
            if w == "there" and i > 0 and words[i - 1] in _AUX:  # "is there ...": existential
                continue
            if w == "there" and i + 1 < len(words) and words[i + 1] in _AUX and i == 0:
                continue
            return i
    return -1


def _lower(words: list[str]) -> list[str]:
    """``words`` lower-cased, but for acronyms: "IT", "US" are names, not the pronouns "it", "us"."""
    return [w if len(w) > 1 and w.isupper() else w.lower() for w in words]


def _has_pronoun(text: str) -> bool:
    return _first_pronoun(_lower(_words(text))) >= 0


def _pronoun_before_own_entity(text: str, own: list[str]) -> bool:
    """A pronoun ahead of every name the question gives cannot point at one of them (an antecedent
    comes first): "Who is he meeting in Brussels?" asks about the conversation's "he"."""
    words = _words(text)
    i = _first_pronoun(_lower(words))
    if i < 0:
        return False
    first_names = {e.split()[0] for e in own}
    first_entity = next((k for k, w in enumerate(words) if _strip_possessive(w) in first_names), len(words))
    return i < first_entity


def _opens_with_wh_or_aux(text: str) -> bool:
    words = [w.lower() for w in _words(text)]
    return bool(words) and (words[0] in _WH or words[0] in _AUX)


def needs_context(question: str) -> bool:
    """True when ``question`` cannot stand alone and must be resolved against the conversation."""
    q = _clean(question)
    if not q:
        return False
    if is_talk(q):
        return False
    if _MORE.match(_body(q)):
        return True
    connector, _ = _strip_connector(q)
    if connector is not None:
        return True
    own = entities(q)
    if _has_pronoun(q) and (not own or _pronoun_before_own_entity(q, own)):
        return True
    words = _words(q)
    if len(words) <= 3 and not _opens_with_wh_or_aux(q):
        # a fragment: "Chile?", "the budget?", "why?", "in Chile?"
        return not own or _only_entities(q) or words[0].lower() in _PREPOSITIONS
    if len(words) <= 1:
        return True
    if not own and _vague(words):
        return True
    # "Where to?", "Since when?", "How so?": two words name nothing to look up on their own
    return len(words) == 2 and _opens_with_wh_or_aux(q) and not own


_DEMONSTRATIVES = {"that", "this", "those", "these", "one", "ones"}


def _vague(words: list[str]) -> bool:
    """A short turn that points back without naming anything: "Why is that?", "How come?", "Why the
    rush?", "How do I request one?", "Can I change this?"."""
    lower = [w.lower() for w in words]
    if lower[0] in ("why", "how") and len(lower) <= 4:
        return True
    return len(lower) <= 6 and bool(_DEMONSTRATIVES & set(lower[1:])) and (lower[0] in _WH or lower[0] in _AUX)


def _only_entities(text: str) -> bool:
    """True when every word of ``text`` belongs to a named entity (fillers like 'then' aside)."""
    ents = " ".join(entities(text)).split()
    rest = [w for w in _words(text) if _strip_possessive(w) not in ents and w.lower() not in _FILLER and w.lower() != "s"]
    return bool(ents) and not rest


# "European", "Russian", "American", "Japanese", "Danish", "Baltic", "German": how demonyms end
_DEMONYM = re.compile(r"(ean|ian|can|ese|ish|ic|man)$")


def _attributive_demonym(question: str, entity: str) -> bool:
    """ "European" in "with European allies": a capitalised adjective before a noun, not a name."""
    return bool(_DEMONYM.search(entity)) and re.search(r"(?<![\w])" + re.escape(entity) + r"\s+[a-z]", question) is not None


def _replace_entity(question: str, old: str, new: str) -> str:
    return re.sub(r"(?<![\w])" + re.escape(old) + r"(?![\w])", new, question, count=1)


def plural_antecedent(previous: str) -> str | None:
    """What "they" / "them" / "their" most likely stand for in a question after ``previous``: names
    joined by "and" ("Britain and France"), else the plural the question asked about ("Which
    countries ...?" -> "those countries"); None when there is neither."""
    ents = entities(previous)
    if len(ents) > 1:
        name = "(?:" + "|".join(re.escape(e) for e in sorted(ents, key=len, reverse=True)) + ")"
        m = re.search(rf"{name}(?:\s*,\s*{name})*\s*,?\s+and\s+{name}", previous)
        if m:
            return m.group(0)
    # the plural may have modifiers ("How many credit hours ...?"), and is no auxiliary ("What is ...?")
    not_aux = r"(?!(?:" + "|".join(sorted(_AUX)) + r")\b)"
    m = re.match(rf"\s*(?:which|what|how many)\s+{not_aux}((?:[a-z][\w-]*\s+){{0,2}}?[a-z]+s)\b", previous, re.IGNORECASE)
    if m and not set(m.group(1).lower().split()) & _AUX:
        return "those " + m.group(1).lower()
    return None


_PLURAL_PRONOUNS = {"they", "them", "their"}


def _actor_and_place(previous: str, ents: list[str]) -> tuple[str | None, str | None]:
    """The name a "he" / "it" most likely stands for (the first one not after a preposition: the
    subject comes first) and the one a "there" stands for (the last one after a preposition):
    "What will Okafor discuss in Chile?" -> ("Okafor", "Chile")."""
    if not ents:
        return None, None
    after_prep = []
    for e in ents:
        m = re.search(r"(\w+)\s+(?:the\s+)?" + re.escape(e.split()[0]), previous)
        after_prep.append(m is not None and m.group(1).lower() in _PREPOSITIONS)
    actor = next((e for e, p in zip(ents, after_prep) if not p), ents[-1])
    place = next((e for e, p in zip(reversed(ents), reversed(after_prep)) if p), ents[-1])
    return actor, place


def _prepositional_name(previous: str, ents: list[str], prep: str | None = None) -> tuple[int, int] | None:
    """Where ``previous`` puts the last of ``ents`` after a preposition (``prep`` first, if given): the
    span of "for Germany", "in the UK", "of Joint training Exercises" (to the next preposition or the
    end; possessive mark and final punctuation excluded)."""
    preps = _PREPOSITIONS | {"of"}
    found = []
    for e in reversed(ents):
        for m in re.finditer(r"\b(\w+)\s+(?:the\s+)?" + re.escape(e) + r"(?![\w])", previous):
            if m.group(1).lower() in preps:
                end = m.end()
                while (w := re.match(r"\s+([\w-]+)(?![\w'’])", previous[end:])) and w.group(1).lower() not in preps:
                    end += w.end()
                found.append((m.group(1).lower() == prep, m.start(), end))
    if not found:
        return None
    same = [f for f in found if f[0]]
    _, start, end = (same or found)[0]
    return start, end


def _prepositional_number(previous: str, prep: str) -> tuple[int, int] | None:
    """The span of "in 1954" in ``previous`` for a follow-up "and in 2025?"."""
    found = list(re.finditer(rf"\b{re.escape(prep)}\s+\d[\d,.]*\b", previous, re.IGNORECASE))
    return (found[-1].start(), found[-1].end()) if found else None


def _replace_pronouns(text: str, entity: str | None, plural: str | None = None, place: str | None = None) -> str:
    # One name is not both who acts and where ("What will he discuss there?") nor both who acts and
    # what is acted on ("When would they send them?"): only the first pronoun is replaced.
    used = False

    def sub(m: re.Match) -> str:
        nonlocal used
        w = m.group(0)
        lw = w.lower()
        after = text[m.end() :].split(None, 1)
        if (lw == "it" and _extraposed(after[0] if after else "")) or (len(w) > 1 and w.isupper()):
            return w  # "Is it true that ...", or the acronym "IT"
        if lw in _PLACE_PRONOUNS:
            before = text[: m.start()].rstrip().split(" ")[-1].lower() if text[: m.start()].strip() else ""
            where = place or entity
            if before in _AUX or (used and where == entity) or not where:
                return w
            return "in " + where
        if used:
            return w
        name = plural if plural and lw in _PLURAL_PRONOUNS else entity
        if name is None:  # "it" with only a plural to stand for ("those countries"): left as written
            return w
        used = True
        if lw in _POSSESSIVE_PRONOUNS:
            mark = "’" if "’" in text else "'"
            return name + mark if name.startswith("those ") else name + mark + "s"  # "those countries'"
        return name

    return re.sub(r"\b(" + "|".join(sorted(_PRONOUNS, key=len, reverse=True)) + r")\b", sub, text, flags=re.IGNORECASE)


_HEAD = re.compile(r"^\s*((?:" + "|".join(_WH) + r")(?:\s+\w+){0,3}?\s+(?:" + "|".join(_COPULA) + r"))\b\s+(.*)$", re.IGNORECASE)


def _head_and_topic(question: str) -> tuple[str, str] | None:
    """("What is", "Norway's focus area") for "What is Norway's focus area?"."""
    m = _HEAD.match(_body(question))
    if not m:
        return None
    return m.group(1), m.group(2)


_Added = tuple[str, str, bool]  # (the question a phrase was added to, its preposition, whether it names something)


# A question that asks for a name: its answer, not its own words, is what "it" / "they" then mean.
_ASKS_FOR_NAME = re.compile(
    r"^\s*(who|whom|which|what (country|countries|nation|nations|city|cities|person|people|"
    r"official|officials|alliance|alliances|organi[sz]ations?|company|companies|group|groups))\b",
    re.IGNORECASE,
)


def answer_names(answer: str | None) -> list[str]:
    """The names an earlier answer gives ("Chile, however, opposes ..." -> ["Chile"]); none without one.
    An owner named before another name is not one of them: "the Agency's Review Board" names the board."""
    if not answer:
        return []
    return [n for n in entities(answer) if not re.search(re.escape(n) + r"(?:['’]s|(?<=[sS])['’])\s+[A-Z]", answer)]


def _resolve(question: str, previous: str, appended: _Added | None = None, reply: str | None = None) -> tuple[str, _Added | None]:
    """The follow-up ``question`` resolved against ``previous``, and, when it was resolved by adding a
    phrase ("... for X?"), what it was added to: a next phrase of the same preposition and kind then
    replaces it instead of piling up ("... in 2024?" + "and in 2025?" is not "... in 2024 in 2025?";
    "... in Chile?" + "and in 2025?" keeps Chile). ``appended`` is that of ``previous``."""
    text = _resolve_text(question, previous, appended, reply)
    if isinstance(text, tuple):
        return text
    if _body(text) == _body(_clean(question)):
        return _with_previous(question, previous), None  # no rule could resolve it
    return text, None


def _resolve_text(question: str, previous: str, appended: _Added | None, reply: str | None = None) -> str | tuple[str, _Added]:
    """The rewrite; with what it was added to when the rewrite adds a phrase (see ``_resolve``)."""

    def added_to(prep: str, phrase: str) -> tuple[str, _Added]:
        named = bool(entities(phrase))
        same = appended is not None and appended[1] == prep and appended[2] == named
        base = appended[0] if same and appended is not None else previous
        return base, (base, prep, named)

    q = _clean(question)
    connector, rest = _strip_connector(q)
    rest_body = _body(rest)
    prev_entities = entities(previous)
    prev_entity = prev_entities[-1] if prev_entities else None
    actor, place = _actor_and_place(previous, prev_entities)
    plural = plural_antecedent(previous)
    # ... but "Who is Ada Okafor?" names its person: the reply describes him, "he" stays him
    identity = re.match(r"^\s*(?i:who|what)\s+(?i:is|are|was|were)\s+[A-Z]", previous) is not None
    named = [n for n in answer_names(reply) if n not in prev_entities] if _ASKS_FOR_NAME.match(previous) and not identity else []
    if named:
        # "Which nation focuses on X?" -> "Chile ..." -> "What is its proposed collaboration area?"
        actor = place = named[0]
        # several names answer a plural question only ("Who were ...?", "Which countries ...?")
        asked_plural = re.match(r"^\s*\w+\s+(?:are|were|have)\b", previous, re.IGNORECASE) is not None or plural is not None
        plural = (", ".join(named[:-1]) + " and " + named[-1]) if len(named) > 1 and asked_plural else plural
        prev_entity = prev_entity or actor
    punct = "?"

    if (connector is not None and not rest_body) or _MORE.match(_body(q)):
        return previous  # "and?" / "what about?" / "tell me more": nothing new
    fragment = rest_body if connector is not None else _body(q)
    if m := re.match(r"^(?:what|which)\s+(?:is|are|was|were)\s+(.+?['’]s)$", fragment, re.IGNORECASE):
        fragment = m.group(1)  # "and what is Chile's?" names only the new owner
    frag_words = [w.lower() for w in _words(fragment)]

    # 1. only a new entity: substitute it into the previous question
    new_entities = entities(fragment)
    if (
        not new_entities
        and connector is not None
        and frag_words
        and len(frag_words) <= 3
        and not (set(frag_words) & (_PRONOUNS | _DETERMINERS | _PREPOSITIONS | _WH | _AUX))
    ):
        # "and chile?": a user who does not capitalise still names something
        new_entities = [" ".join(_words(fragment))]
        only_entity = True
    else:
        only_entity = _only_entities(fragment)
    if only_entity and new_entities:
        new = new_entities[-1]
        if prev_entity:
            target = prev_entity
            if actor and actor != prev_entity and _attributive_demonym(previous, prev_entity) and not _DEMONYM.search(new):
                # "What will Okafor discuss with European allies?" + "And Putin?": a name does not stand
                # for an adjective ("Putin allies"); it takes the place of who acts
                target = actor
            return _replace_entity(previous, target, new)
        base, added = added_to("for", new)
        return f"{_body(base)} for {new}{punct}", added

    if connector is None and not _opens_with_wh_or_aux(q) and len(_words(q)) > 3:
        # 2. a full question with an unresolved pronoun
        return _replace_pronouns(q, actor, plural, place) if prev_entity or plural else _with_previous(q, previous)

    if connector is None and _opens_with_wh_or_aux(q) and len(_words(q)) <= 2 and not entities(q):
        fw = [w.lower() for w in _words(q)]
        # the previous question's wh-phrase ("What", "Which countries") before its auxiliary
        shape = re.match(
            r"^\s*((?i:what|which|who|whom|where|when|how)(?:\s+[a-z][\w'’-]*){0,2}?)\s+(?=((?i:" + "|".join(_AUX) + r"))\s+(\S+))",
            _body(previous),
        )
        # only when a subject follows the auxiliary ("Which countries will deploy troops?" has none: its
        # wh-phrase is the subject), and a copula only before a verb in -ing ("What is Norway's focus
        # area?" + "Why?" is no "Why is Norway's focus area?")
        if shape and not (shape.group(3)[0].isupper() or shape.group(3).lower() in _SUBJECT_WORDS):
            shape = None
        if shape and shape.group(2).lower() in _COPULA and not _words(previous)[-1].lower().endswith("ing"):
            shape = None
        if shape and (fw[0] in ("where", "when", "why") or fw == ["how"]):
            # "What did the Netherlands deploy?" + "Where to?" -> "Where did the Netherlands deploy to?";
            # "Which countries will Okafor visit?" + "Why?" -> "Why will Okafor visit?" (asked again as
            # it was, "Why?" found the same answer again)
            tail = (" " + " ".join(_words(q)[1:])) if len(fw) > 1 else ""
            body = _body(previous)
            return fw[0].capitalize() + " " + body[shape.end() :] + tail + punct
        return f"{_body(previous)}: {q}"  # "How much?", "Who won the election?" + "When?": asked again

    if connector is None and _opens_with_wh_or_aux(q):
        return _replace_pronouns(q, actor, plural, place) if prev_entity or plural else _with_previous(q, previous)

    # 3. a qualifier: "what about in 2024?" -> previous question + qualifier; but a name after a
    # preposition stands for the previous one in the same role: "... for Germany?" + "and for
    # Chile?" -> "... for Chile?", not "... for Germany for Chile?"
    if frag_words and frag_words[0] in _PREPOSITIONS | {"of"}:
        rest = " ".join(_words(fragment)[1:])
        span = _prepositional_name(previous, prev_entities, frag_words[0])
        if (
            span
            and frag_words[0] in ("of", "for")
            and previous[span[0] :].lower().startswith(frag_words[0] + " ")
            and not re.fullmatch(r"\d[\d,.]*", rest)
        ):
            # "... outcome of Defense Spending?" + "and of modernizing supply chains?": the same role
            return previous[: span[0]] + fragment + previous[span[1] :]
        if _only_entities(rest):
            if span:
                return previous[: span[0]] + fragment + previous[span[1] :]
            owner = next((e for e in reversed(prev_entities) if re.search(re.escape(e) + r"['’]s\b", previous)), None)
            if owner:  # "What is Norway's focus area?" + "and for Chile?": Chile's focus area
                return _replace_entity(previous, owner, entities(rest)[-1])
        if re.fullmatch(r"\d[\d,.]*", rest) and (span := _prepositional_number(previous, frag_words[0])):
            return previous[: span[0]] + fragment + previous[span[1] :]  # "... in 1954?" + "and in 2025?"
        frag = _replace_pronouns(fragment, actor, plural, place) if prev_entity else fragment
        last = _last_phrase(previous, frag_words[0])
        if last is not None and appended is None:
            # "... credit hours on a standard schedule?" + "what about on a flexible one?": the question's
            # last phrase of the same preposition is the one asked about again, not one to keep
            return f"{_body(previous)[:last].rstrip()} {frag}{punct}"
        base, added = added_to(frag_words[0], frag)
        return f"{_body(base)} {frag}{punct}", added

    # 4. a new topic: "what about its proposed collaboration area?" -> head + topic
    topic = _replace_pronouns(fragment, actor, plural, place) if prev_entity else fragment
    if prev_entity and not entities(topic):
        topic = f"{topic} of {prev_entity}"
    ht = _head_and_topic(previous)
    head = ht[0] if ht else "What is"
    if frag_words and (frag_words[0] in _WH or frag_words[0] in _AUX):
        return topic[0].upper() + topic[1:] + punct  # "and what is its budget?" -> a question already
    return f"{head} {topic}{punct}"


def _last_phrase(question: str, preposition: str) -> int | None:
    """Where the question's closing phrase opened by ``preposition`` starts ("on a standard schedule" of
    "Can I earn credit hours on a standard schedule?"): the last such phrase, when no other preposition
    follows it. None when there is none."""
    body = _body(question)
    at = [m.start() for m in re.finditer(r"\s" + re.escape(preposition) + r"\s", body, re.I)]
    if not at:
        return None
    after = [w.lower() for w in _words(body[at[-1] :])[1:]]
    return None if set(after) & (_PREPOSITIONS - {"of"}) else at[-1]


def _with_previous(question: str, previous: str) -> str:
    """A follow-up whose "it" or "that" names nothing the rules can put in its place ("Do they
    expire?" after "How many credit hours can I have accrued?"): asked together with the question it
    follows, whose words find the passage it is about."""
    return f"{_body(question)}? {_body(previous)}?"


def _strip_talk(text: str) -> str:
    """ "ok, and what is Chile's?" -> "and what is Chile's?": talk before a question is not part of it."""
    # only an interjection set off by punctuation: "no, I mean Chile" keeps its "I mean"
    m = re.match(r"^((?:[A-Za-z]+\s+){0,3}[A-Za-z]+\s*[,.!]+\s*)(?=\S)", text)
    if m and is_talk(m.group(1)) and not is_talk(text) and not set(_words(m.group(1).lower())) & {"no", "nope", "yes", "yeah", "yep"}:
        return text[m.end() :]  # "no, ..." corrects: it stays
    return text


def is_talk(text: str) -> bool:
    """A turn that is talk, not a question ("thanks!", "ok great", "hi"): nothing to look up."""
    words = [w.lower() for w in _words(text)]
    return bool(words) and all(w in _SOCIAL for w in words)


def standalone_question(messages: Sequence[Turn], max_chars: int | None = None) -> str:
    """The question to search for the last user message of ``messages`` (roles "user" / "assistant" /
    "system"; an assistant turn's ``answer`` is what a pronoun may mean). Each user turn is resolved against the previous
    resolved user turn, so follow-ups of follow-ups keep their subject; talk ("thanks!") is never
    what a later turn refers to. A rewrite longer than ``max_chars`` (a follow-up of a very long
    turn) gives way to the last message as the user wrote it: the user's own words are what the
    length limit applies to."""
    resolved: list[str] = []
    replies: list[str | None] = []  # the answer the assistant gave each resolved turn (None until one comes)
    appended: _Added | None = None
    last = ""
    seen_reply: list[bool] = []
    for turn in messages:
        role, content = turn.role, turn.content
        if role == "assistant" and resolved and not seen_reply[-1] and content:
            replies[-1], seen_reply[-1] = turn.answer, True
        if role != "user":
            continue
        text = _strip_talk(_clean(content or ""))
        if not text:
            continue
        last = text
        if is_talk(text):
            continue
        if resolved and needs_context(text):
            text, appended = _resolve(text, resolved[-1], appended, replies[-1])
            text = _clean(text)
            text = text[:1].upper() + text[1:]
        else:
            appended = None
        resolved.append(text)
        replies.append(None)
        seen_reply.append(False)
    if not resolved or is_talk(last):
        return last
    if max_chars is not None and len(resolved[-1]) > max_chars:
        return last
    return resolved[-1]


_WHY = re.compile(r"^(why|how come)\b", re.IGNORECASE)


def asks_why(text: str) -> bool:
    """ "Why?", "Why is that?", "Why not?", "How come?": the reason for the answer just given, in at most
    three words that name nothing new to search for."""
    body = _body(text)
    return bool(_WHY.match(body)) and len(_words(body)) <= 3


def asks_for_more(text: str) -> bool:
    """ "Tell me more", "go on", "anything else?": the previous question again, for its next answer."""
    return bool(_MORE.match(_body(text)))


def more_requests(messages: Sequence[Turn]) -> int:
    """How many "tell me more" the conversation ends with (its last user turns, talk aside): the
    question is then the one before them, and each asks for one more answer to it."""
    n = 0
    for turn in reversed(messages):
        text = _clean(turn.content or "")
        if turn.role != "user" or not text or is_talk(text):
            continue
        if not _MORE.match(_body(text)):
            break
        n += 1
    return n
