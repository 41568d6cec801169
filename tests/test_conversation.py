"""Follow-up resolution (rag.conversation), without the model."""

from __future__ import annotations

import pytest

from rag.conversation import entities, needs_context
from rag.conversation import standalone_question as _standalone
from rag.reply import turns


def standalone_question(messages, **kw):
    return _standalone(turns(messages), **kw)


Q = "what is Belgium's focus area?"
A = "Enhancement of Rapid Response forces [1]"


def conv(*user_turns: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for i, t in enumerate(user_turns):
        out.append(("user", t))
        if i < len(user_turns) - 1:
            out.append(("assistant", "some answer [1]"))
    return out


@pytest.mark.parametrize(
    "follow_up, expected",
    [
        ("and Poland?", "What is Poland's focus area?"),
        ("And Poland?", "What is Poland's focus area?"),
        ("and poland?", "What is poland's focus area?"),
        ("Poland?", "What is Poland's focus area?"),
        ("what about Poland?", "What is Poland's focus area?"),
        ("How about Germany then?", "What is Germany's focus area?"),
        ("what about its proposed collaboration area?", "What is Belgium's proposed collaboration area?"),
        ("and their proposed collaboration area?", "What is Belgium's proposed collaboration area?"),
        ("what about in 2024?", "What is Belgium's focus area in 2024?"),
        ("how about the budget?", "What is the budget of Belgium?"),
        ("What happens there?", "What happens in Belgium?"),
        ("Who leads it?", "Who leads Belgium?"),
    ],
)
def test_follow_ups_are_rewritten(follow_up, expected):
    assert standalone_question(conv(Q, follow_up)) == expected


@pytest.mark.parametrize(
    "question",
    [
        "What is Germany's focus area?",
        "Which three countries is Pete Hegseth scheduled to visit?",
        "Who is Pete Hegseth?",
        "What position does Pete Hegseth hold?",
        "Is there a budget for the visit?",
        "What does NATO think of its modernization goals?",  # a pronoun, but its own named entity
    ],
)
def test_self_contained_questions_are_kept(question):
    assert standalone_question(conv(Q, question)) == question
    assert not needs_context(question)


def test_first_question_is_never_rewritten():
    assert standalone_question([("user", "and Poland?")]) == "and Poland?"
    assert standalone_question([("user", "  What is it?  ")]) == "What is it?"


def test_chain_keeps_the_latest_subject():
    msgs = conv(Q, "and Poland?", "what about its proposed collaboration area?")
    assert standalone_question(msgs) == "What is Poland's proposed collaboration area?"


def test_assistant_and_system_messages_do_not_count_as_questions():
    msgs = [("system", "be brief"), ("user", Q), ("assistant", "Germany is mentioned. What about Poland?"), ("user", "and Poland?")]
    assert standalone_question(msgs) == "What is Poland's focus area?"


def test_person_pronouns_and_substitution_of_the_last_entity():
    assert standalone_question(conv("Who is Pete Hegseth?", "what is his position?")) == "What is Pete Hegseth's position?"
    assert standalone_question(conv("What did Hegseth discuss in Poland?", "and Germany?")) == "What did Hegseth discuss in Germany?"


def test_a_pronoun_ahead_of_the_questions_own_names_points_back():
    # "he" comes before "Brussels", so it cannot mean Brussels: it is the conversation's Hegseth.
    prev = "Which countries will Hegseth visit?"
    assert standalone_question(conv(prev, "Who is he meeting in Brussels?")) == "Who is Hegseth meeting in Brussels?"
    assert needs_context("Who is he meeting in Brussels?")
    # After its own name, the pronoun is that name's ("its" is NATO's): kept as asked.
    assert standalone_question(conv(prev, "What does NATO think of its goals?")) == "What does NATO think of its goals?"


def test_one_name_is_not_both_the_actor_and_the_place():
    prev = "Which countries will Hegseth visit?"
    assert standalone_question(conv(prev, "What will he discuss there?")) == "What will Hegseth discuss there?"
    assert standalone_question(conv(Q, "What happens there?")) == "What happens in Belgium?"


def test_an_it_that_stands_for_the_clause_after_it_is_kept():
    prev = "Which countries will Hegseth visit?"
    assert standalone_question(conv(prev, "Is it true that he met Poland's minister?")) == "Is it true that Hegseth met Poland's minister?"
    assert standalone_question(conv(prev, "Is it likely that Poland agrees?")) == "Is it likely that Poland agrees?"
    assert standalone_question(conv(Q, "Who leads it?")) == "Who leads Belgium?"


def test_very_short_wh_fragment_is_asked_about_the_previous_question():
    out = standalone_question(conv(Q, "Why?"))
    assert "Belgium" in out and out.endswith("Why?")


def test_no_previous_entity_appends_the_new_one():
    assert standalone_question(conv("What is the focus area?", "and Poland?")) == "What is the focus area for Poland?"


def test_empty_inputs():
    assert standalone_question([]) == ""
    assert standalone_question([("assistant", "hello")]) == ""
    assert standalone_question(conv(Q, "   ")) == "what is Belgium's focus area?"


def test_entities():
    assert entities("What is Belgium's focus area?") == ["Belgium"]
    assert entities("Who is Pete Hegseth?") == ["Pete Hegseth"]
    assert entities("what is the answer?") == []
    assert "NATO" in entities("does NATO plan drills")


def test_needs_context():
    assert needs_context("and Poland?")
    assert needs_context("what about its budget?")
    assert needs_context("Where is it?")
    assert needs_context("Poland?")
    assert not needs_context("What is Poland's focus area?")
    assert not needs_context("")


@pytest.mark.parametrize("turn", ["thanks!", "ok", "Thank you", "great, thanks", "Hi", "ok, got it"])
def test_social_turns_are_not_grafted_onto_the_previous_question(turn):
    assert not needs_context(turn)
    assert standalone_question(conv(Q, turn)) == turn


@pytest.mark.parametrize("turn", ["Tell me more", "tell me more please", "Tell me more, please", "go on", "What else?", "Anything else?"])
def test_tell_me_more_asks_the_previous_question_again(turn):
    assert standalone_question(conv(Q, turn)) == "What is Belgium's focus area?"


@pytest.mark.parametrize(
    "previous, follow_up, expected",
    [
        # one name is not both who acts and what is acted on; a plural pronoun takes the asked-about plural
        ("Which countries are willing to send troops to Ukraine?", "When would they send them?", "When would those countries send them?"),
        ("What did Britain and France agree?", "Where will they deploy?", "Where will Britain and France deploy?"),
        ("What did Germany, Belgium and Poland agree?", "What do they plan?", "What do Germany, Belgium and Poland plan?"),
        # the subject for "he", the place for "there"
        ("What will Hegseth discuss in Poland?", "What will he discuss there?", "What will Hegseth discuss in Poland?"),
        ("When does Hegseth visit Poland?", "Who will he meet?", "Who will Hegseth meet?"),
    ],
)
def test_pronouns_take_the_antecedent_they_agree_with(previous, follow_up, expected):
    assert standalone_question(conv(previous, follow_up)) == expected


def test_talk_between_turns_is_not_what_a_follow_up_refers_to():
    assert standalone_question(conv(Q, "thanks!", "And Poland's?")) == "What is Poland's focus area?"
    assert (
        standalone_question(conv(Q, "ok great", "what about its proposed collaboration area?"))
        == "What is Belgium's proposed collaboration area?"
    )


@pytest.mark.parametrize(
    "previous, follow_up, expected",
    [
        ("What is the focus area for Germany?", "And for Poland?", "What is the focus area for Poland?"),
        ("How many troops are deployed in the UK?", "and in France?", "How many troops are deployed in France?"),
        # no name after a preposition to stand for: the qualifier is added
        ("What will Hegseth discuss?", "and in Poland?", "What will Hegseth discuss in Poland?"),
        ("What is the focus area for Germany?", "and in 2024?", "What is the focus area for Germany in 2024?"),
    ],
)
def test_a_name_after_a_preposition_replaces_the_one_in_the_same_role(previous, follow_up, expected):
    assert standalone_question(conv(previous, follow_up)) == expected


def test_a_rewrite_over_the_length_limit_gives_way_to_the_users_words():
    long_turn = "What is Belgium's focus area " + "and its proposed collaboration area " * 60 + "?"
    assert len(standalone_question(conv(long_turn, "And Poland?"))) > 2000
    assert standalone_question(conv(long_turn, "And Poland?"), max_chars=2000) == "And Poland?"
    assert standalone_question(conv(Q, "And Poland?"), max_chars=2000) == "What is Poland's focus area?"


@pytest.mark.parametrize(
    "turns, expected",
    [
        # a phrase like the one the previous follow-up added replaces it instead of piling up
        (
            (
                "What is the expected outcome of defense spending discussions?",
                "and cybersecurity initiatives?",
                "and for modernizing supply chains?",
            ),
            "What is the expected outcome of defense spending discussions for modernizing supply chains?",
        ),
        (("What did Hegseth discuss?", "what about in 2024?", "and in 2025?"), "What did Hegseth discuss in 2025?"),
        (("What did Hegseth discuss?", "in Poland?", "and in Germany?"), "What did Hegseth discuss in Germany?"),
        # ... but a phrase of another kind adds to it
        (("What did Hegseth discuss?", "in Poland?", "and in 2025?"), "What did Hegseth discuss in Poland in 2025?"),
        # "and for X?" after a possessive names the new owner
        (("What is Belgium's focus area?", "and for Poland?"), "What is Poland's focus area?"),
        (
            ("What is Belgium's proposed collaboration area?", "and for Poland?", "And what about its focus area?"),
            "What is Poland's focus area?",
        ),
        # a year for a year; a phrase of the same role ("of", "for") for the one before
        (("Which treaty was signed in 1954?", "and in 2025?"), "Which treaty was signed in 2025?"),
        (
            ("What is the expected outcome of Defense Spending?", "and of modernizing supply chains?"),
            "What is the expected outcome of modernizing supply chains?",
        ),
        (
            ("What are the objectives of Joint training Exercises?", "And for Regional Security Dialogues?"),
            "What are the objectives for Regional Security Dialogues?",
        ),
        # the name after the same preposition is the one replaced
        (("What did Hegseth discuss in Poland with NATO?", "and in Germany?"), "What did Hegseth discuss in Germany with NATO?"),
        # talk before a question is not part of it; "what is X's?" names the new owner
        (("What is Belgium's focus area?", "ok, and what is Poland's?"), "What is Poland's focus area?"),
        (("What is Belgium's focus area?", "ok thanks, and Poland?"), "What is Poland's focus area?"),
        (("What is Belgium's focus area?", "no, I mean Poland"), "no, I mean Poland"),
        # a plural stand-in takes a plural possessive
        (("Which countries will Hegseth visit?", "What is their focus area?"), "What is those countries' focus area?"),
        # two words name nothing to look up alone
        (("What did the Netherlands deploy?", "Where to?"), "Where did the Netherlands deploy to?"),
        (("Where is Hegseth travelling?", "Where to?"), "Where is Hegseth travelling to?"),
        (("What will Hegseth discuss?", "When?"), "When will Hegseth discuss?"),
        (("Who won the election?", "When?"), "Who won the election: When?"),  # no auxiliary to keep the question's shape
        # a name does not stand for a demonym before a noun ("Putin allies"): it takes the place of who acts
        (("What will Hegseth discuss with European allies?", "And Putin?"), "What will Putin discuss with European allies?"),
        (("What will Hegseth discuss with European allies?", "And Asian?"), "What will Hegseth discuss with Asian allies?"),
        # "Why?" asks about what the previous question asked, in its shape: asked again as it was, it found the same answer
        (("Which countries will Hegseth visit?", "Why?"), "Why will Hegseth visit?"),
        (("What did the Netherlands deploy to Poland?", "How?"), "How did the Netherlands deploy to Poland?"),
        (("What are the allies planning?", "Why?"), "Why are the allies planning?"),
        (("Which countries will deploy troops?", "Why?"), "Which countries will deploy troops: Why?"),  # the wh-phrase is the subject
        (("What is Belgium's focus area?", "Why?"), "What is Belgium's focus area: Why?"),  # "Why is Belgium's focus area?" is no question
        (("What did the Netherlands deploy?", "How much?"), "What did the Netherlands deploy: How much?"),
        # "they" with only a plural to stand for
        (("Which countries might deploy troops?", "How many soldiers are they sending?"), "How many soldiers are those countries sending?"),
    ],
)
def test_chains_of_follow_ups(turns, expected):
    assert standalone_question(conv(*turns)) == expected


def test_more_requests_counts_the_trailing_tell_me_more():
    from rag.conversation import more_requests as _more

    def more_requests(messages):
        return _more(turns(messages))

    assert more_requests(conv(Q)) == 0
    assert more_requests(conv(Q, "Tell me more")) == 1
    assert more_requests(conv(Q, "Tell me more", "thanks", "go on")) == 2  # talk between them aside
    assert more_requests(conv(Q, "Tell me more", "and Poland?")) == 0


def _with_replies(*turns: str) -> list[tuple[str, str]]:
    return [("user" if i % 2 == 0 else "assistant", t) for i, t in enumerate(turns)]


@pytest.mark.parametrize(
    "turns, expected",
    [
        # a question that asks for a name: "it" / "they" then mean its answer
        (
            (
                "Which nation focuses on Defense Infrastructure Development?",
                "Poland [1]\n\nSources:\n[1] Hegseth — Table",
                "What is its proposed collaboration area?",
            ),
            "What is Poland's proposed collaboration area?",
        ),
        (
            (
                "Who said Trump is being handled by Putin?",
                "Matt Duss, executive vice president at the Center, said so [1]",
                "What is his job?",
            ),
            "What is Matt Duss's job?",
        ),
        (
            ("Which countries will Hegseth visit?", "Germany, Belgium, and Poland [1]", "What is their focus area?"),
            "What is Germany, Belgium and Poland's focus area?",
        ),
        # no answer given: the question's own words
        (
            ("Which countries will Hegseth visit?", "The corpus does not say.", "What is their focus area?"),
            "What is those countries' focus area?",
        ),
        # "Who is X?" names its person: the reply describes him
        (
            ("Who is Pete Hegseth?", "Secretary of Defense Pete Hegseth is set to embark on a visit [1]", "Who is he meeting?"),
            "Who is Pete Hegseth meeting?",
        ),
    ],
)
def test_a_pronoun_after_a_which_question_means_its_answer(turns, expected):
    assert standalone_question(_with_replies(*turns)) == expected


@pytest.mark.parametrize(
    "previous, follow_up",
    [
        ("What is the parking permit used for?", "When does it expire?"),
        ("How soon must expense reports be filed?", "Why the rush?"),
        ("Can I book a meeting room in the annex?", "How do I request one?"),
        ("How many guides should lead a field trip?", "Why is that?"),
    ],
)
def test_a_follow_up_no_rule_resolves_is_asked_with_the_question_it_follows(previous, follow_up):
    # Nothing named to put in place of "they" or "that": the previous question's words come along,
    # so the passage it is about is found.
    out = standalone_question(conv(previous, follow_up))
    assert out.startswith(follow_up.rstrip("?")) and previous.rstrip("?") in out


def test_an_acronym_is_not_a_pronoun():
    from rag.conversation import needs_context, standalone_question
    from rag.reply import Turn

    assert not needs_context("Where is the IT Help Desk in the D.C. office?")
    assert needs_context("Where is it?")
    turns = [Turn("user", "How long do details last?"), Turn("assistant", "120 days."), Turn("user", "Who runs IT in the Denver office?")]
    assert standalone_question(turns) == "Who runs IT in the Denver office?"


def test_a_phrase_of_the_same_preposition_takes_the_place_of_the_last_one():
    from rag.conversation import standalone_question
    from rag.reply import Turn

    def follow(first: str, second: str) -> str:
        return standalone_question([Turn("user", first), Turn("assistant", "..."), Turn("user", second)])

    assert follow("Can I earn credit hours on a standard schedule?", "What about on a flexible schedule?") == (
        "Can I earn credit hours on a flexible schedule?"
    )
    assert follow("How much leave do I earn with fewer than 3 years of service?", "And with 15+ years?") == (
        "How much leave do I earn with 15+ years?"
    )
    # another preposition is a qualifier added to the question
    assert follow("Can I earn credit hours on a standard schedule?", "And in the first week?") == (
        "Can I earn credit hours on a standard schedule in the first week?"
    )


def test_a_slash_joins_one_name():
    assert entities("What do Blind/LowVision staff use with Zorb Chat?") == ["Blind/LowVision", "Zorb Chat"]
    assert entities("Is it and/or?") == []


def test_they_after_a_plural_with_modifiers():
    assert (
        standalone_question(conv("How many vacation tokens can I keep at once?", "Do they expire?")) == "Do those vacation tokens expire?"
    )
    assert standalone_question(conv("What is the quorum?", "Why?")) != "Do those is expire?"


def test_an_owner_is_not_what_an_answer_names():
    from rag.conversation import answer_names

    assert answer_names("They go to the Bureau’s Review Board.") == ["Review Board"]
    assert answer_names("They go to FOOS’ Review Board (RB).") == ["Review Board", "RB"]


def test_a_singular_question_answered_with_two_names_is_not_they_both():
    messages = [
        ("user", "Who is the warden in the intake process?"),
        ("assistant", "They go to Quarry Hall’s Intake Warden."),
        ("user", "What are they responsible for?"),
    ]
    assert standalone_question(messages) == "What are Intake Warden responsible for?"


@pytest.mark.parametrize("turn", ["Why?", "why is that?", "Why not?", "How come?", "Why the rush?"])
def test_a_bare_why_asks_for_the_reason_of_the_answer_given(turn):
    from rag.conversation import asks_why

    assert asks_why(turn)


@pytest.mark.parametrize("turn", ["Why is the night ferry late?", "Why does it stop at pier 4?", "What is why?"])
def test_a_why_question_that_names_things_is_a_question_of_its_own(turn):
    from rag.conversation import asks_why

    assert not asks_why(turn)
