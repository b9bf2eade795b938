from knowledge.answers.readings import readings


def test_a_greeting_in_front_of_a_question_is_also_tried_away():
    assert readings("Hi, where is my order?") == ["Hi, where is my order?", "where is my order?"]
    assert readings("Hallo, wo ist meine Bestellung?")[-1] == "wo ist meine Bestellung?"


def test_two_short_openings_are_tried_away_one_after_the_other():
    assert readings("Morning, quick question - do you deliver on Sundays?") == [
        "Morning, quick question - do you deliver on Sundays?",
        "quick question - do you deliver on Sundays?",
        "do you deliver on Sundays?",
    ]


def test_a_plain_question_or_a_long_first_clause_is_read_as_it_is():
    assert readings("refund??") == ["refund??"]
    assert readings("where is my order, it is late") == ["where is my order, it is late"]
    assert readings("Hi!") == ["Hi!"]
    assert readings("Hi, thanks") == ["Hi, thanks"]  # one word left is no question
