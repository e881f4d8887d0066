"""IFEval verifier: every instruction with a passing and a failing response, label formats, scoring."""

from __future__ import annotations

import json

import pytest

from olmo3hpc.rewards.ifeval import INSTRUCTIONS, ifeval_score, parse_constraints
from olmo3hpc.rewards.ifeval.language import detect_language

EN = "The quick brown fox jumps over the lazy dog and it was happy with the result of the day."

# instruction id -> (kwargs, passing response, failing response)
CASES: dict[str, tuple[dict, str, str]] = {
    "keywords:existence": ({"keywords": ["apple", "banana"]}, "I like Apple and banana.", "I like apple only."),
    "keywords:frequency": ({"keyword": "cat", "frequency": 3, "relation": "at least"},
                           "cat cat and a cat", "one cat and another cat"),
    "keywords:forbidden_words": ({"forbidden_words": ["bad", "evil"]}, "A badge is good.", "That is Evil."),
    "keywords:letter_frequency": ({"letter": "z", "let_frequency": 2, "let_relation": "less than"},
                                  "zebra", "zebra zoo"),
    "language:response_language": ({"language": "es"},
                                   "El perro es muy grande y la casa de mi madre es para los niños.", EN),
    "length_constraints:number_sentences": ({"num_sentences": 3, "relation": "less than"},
                                            "One. Two, said Dr. Smith.", "One. Two. Three. Four."),
    "length_constraints:number_paragraphs": ({"num_paragraphs": 2}, "First part.\n***\nSecond part.",
                                             "First.\n***\n\n***\nSecond."),
    "length_constraints:number_words": ({"num_words": 5, "relation": "at least"},
                                        "one two three four five six", "one two three"),
    "length_constraints:nth_paragraph_first_word": (
        {"num_paragraphs": 2, "nth_paragraph": 2, "first_word": "however"},
        "Intro text here.\n\nHowever, this is second.", "Intro text here.\n\nBut this is second."),
    "detectable_content:number_placeholders": ({"num_placeholders": 2}, "Dear [name], at [address].",
                                               "Dear [name], hello."),
    "detectable_content:postscript": ({"postscript_marker": "P.S."}, "Body text.\nP.S. see you", "Body text only."),
    "detectable_format:number_bullet_lists": ({"num_bullets": 2}, "List:\n* one\n- two",
                                              "List:\n* one\n* two\n* three"),
    "detectable_format:constrained_response": ({}, "My answer is yes.", "Yes, definitely."),
    "detectable_format:number_highlighted_sections": ({"num_highlights": 2}, "*first* and **second**", "*only one*"),
    "detectable_format:multiple_sections": ({"section_spliter": "Section", "num_sections": 2},
                                            "Section 1\nabc\nSection 2\ndef", "Section 1\nabc"),
    "detectable_format:json_format": ({}, '```json\n{"a": 1}\n```', "{a: 1}"),
    "detectable_format:title": ({}, "<<My Title>>\nText", "My Title\nText"),
    "combination:two_responses": ({}, "Answer one.\n******\nAnswer two.", "Answer one.\n******\nAnswer one."),
    "combination:repeat_prompt": ({"prompt_to_repeat": "Write a poem."}, "Write a poem. Roses are red.",
                                  "Roses are red."),
    "startend:end_checker": ({"end_phrase": "Any other questions?"}, "Done. Any other questions?", "Done."),
    "startend:quotation": ({}, '"Wrapped in quotes."', 'Not "wrapped".'),
    "change_case:capital_word_frequency": ({"capital_frequency": 2, "capital_relation": "at least"},
                                           "THIS is VERY important", "This is Very important"),
    "change_case:english_capital": ({}, EN.upper(), EN),
    "change_case:english_lowercase": ({}, EN.lower(), EN),
    "punctuation:no_comma": ({}, "No commas here.", "Well, there is one."),
}


def test_registry_covers_all_ifeval_instructions() -> None:
    assert set(CASES) == set(INSTRUCTIONS)
    assert len(INSTRUCTIONS) == 25


@pytest.mark.parametrize("instruction_id", sorted(CASES))
def test_instruction_pass_and_fail(instruction_id: str) -> None:
    kwargs, good, bad = CASES[instruction_id]
    label = json.dumps([{"instruction_id": [instruction_id], "kwargs": [kwargs]}])
    assert ifeval_score(good, label) == 1.0
    assert ifeval_score(bad, label) == 0.0


def test_fraction_of_constraints_and_think_stripping() -> None:
    label = {"instruction_id": ["punctuation:no_comma", "startend:quotation"], "kwargs": [None, {}]}
    assert ifeval_score("<think>hmm, a comma</think>\"no comma here\"", label) == 1.0
    assert ifeval_score("<think>x</think>no comma and no quotes", label) == 0.5
    assert ifeval_score("<think>only thinking</think>", label) == 0.0


def test_label_formats() -> None:
    python_literal = "[{'instruction_id': ['punctuation:no_comma'], 'kwargs': [{'unused': None}]}]"
    json_dict = json.dumps({"instruction_id": ["punctuation:no_comma"], "kwargs": [{}]})
    nested = json.dumps([json_dict])  # open-instruct: a list whose first item is a JSON string
    list_of_single = [{"instruction_id": "punctuation:no_comma", "kwargs": {}},
                      {"instruction_id": "startend:quotation", "kwargs": None}]
    for label in (python_literal, json_dict, nested):
        assert parse_constraints(label) == [("punctuation:no_comma", {})]
        assert ifeval_score("fine", label) == 1.0
    assert ifeval_score('"fine"', list_of_single) == 1.0


def test_bad_labels_raise_clear_errors() -> None:
    with pytest.raises(ValueError, match="unknown IFEval instruction"):
        ifeval_score("x", {"instruction_id": ["nope:nope"], "kwargs": [{}]})
    with pytest.raises(ValueError, match="needs kwargs"):
        ifeval_score("x", {"instruction_id": ["keywords:existence"], "kwargs": [{}]})
    with pytest.raises(ValueError, match="neither JSON"):
        ifeval_score("x", "{not: valid")


@pytest.mark.parametrize(("text", "code"), [
    (EN, "en"), ("Der Hund ist nicht auf dem Tisch und die Katze ist im Haus.", "de"),
    ("Le chat est sur la table et les enfants sont dans le jardin.", "fr"),
    ("Il gatto è sul tavolo e i bambini sono nel giardino con la madre.", "it"),
    ("O gato está na mesa e as crianças não são do jardim.", "pt"),
    ("Привет, как дела? Это было очень интересно.", "ru"), ("Привіт, як справи? Це її книга.", "uk"),
    ("مرحبا كيف حالك اليوم", "ar"), ("यह एक अच्छा दिन है और मैं खुश हूँ", "hi"), ("こんにちは、元気ですか", "ja"),
    ("안녕하세요 반갑습니다", "ko"), ("สวัสดีครับ", "th"), ("שלום עולם", "he"), ("你好，世界", "zh"),
])
def test_language_detection(text: str, code: str) -> None:
    assert detect_language(text) == code
