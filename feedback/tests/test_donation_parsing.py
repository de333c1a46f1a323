"""Parsing donated conversations: the two fixtures turn into exact turns (the ChatGPT one with a
regenerated branch that must not be picked), and every rejection says why in words."""

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from feedback.donations.parsing import (
    DonatedConversation,
    DonatedTurn,
    DonationRejected,
    donation_parse,
)

DATA = Path(__file__).parent / "data"
LIMIT = 1_000_000


def chatgpt_raw() -> bytes:
    return (DATA / "chatgpt_conversations.json").read_bytes()


def sharegpt_raw() -> bytes:
    return (DATA / "sharegpt.json").read_bytes()


def user(text: str) -> DonatedTurn:
    return DonatedTurn(role="user", text=text)


def assistant(text: str) -> DonatedTurn:
    return DonatedTurn(role="assistant", text=text)


def rejection(raw: bytes, *, max_bytes: int = LIMIT) -> str:
    with pytest.raises(DonationRejected) as caught:
        donation_parse(raw, max_bytes=max_bytes)
    return str(caught.value)


def encoded(data) -> bytes:
    return json.dumps(data).encode()


SOURDOUGH = DonatedConversation(
    title="Sourdough starter smells odd",
    source="chatgpt",
    turns=[
        user("My sourdough starter smells like nail polish remover. Is it dead?"),
        assistant(
            "Probably not! That acetone smell means it is hungry. Discard half and feed it twice a day for a few days."
        ),
        user("How much flour and water per feeding?"),
        assistant("Equal weights: for 50 g of starter,\nadd 50 g of flour and 50 g of water."),
    ],
    created_at=datetime(2024, 5, 17, 8, 42, 22, 481000, tzinfo=UTC),
)
BUDGET = DonatedConversation(
    title="Trip budget from a photo",
    source="chatgpt",
    turns=[
        user("Here is a photo of my receipts. What did the trip cost in total?"),
        assistant("The receipts add up to 59.75 €."),
        user("Thanks! Split between 3 people?"),
        assistant("About 19.92 € each."),
    ],
    created_at=datetime(2024, 5, 20, 10, 13, 20, tzinfo=UTC),
)
HAIKU = DonatedConversation(
    title="Give me a haiku about the tram to work.",
    source="sharegpt",
    turns=[
        user("Give me a haiku about the tram to work."),
        assistant("Rails hum in grey dawn,\nstrangers sway like reeds in wind,\ncoffee steam, my stop."),
        user("Now one about the way home."),
        assistant("Lamps blink on, one by one;\nthe same strangers, tired now,\nfold into their coats."),
    ],
    created_at=None,
)
REGEX = DonatedConversation(
    title="Regex for postcodes",
    source="sharegpt",
    turns=[
        user("Write a regex that matches a five-digit postcode."),
        assistant("Use `^\\d{5}$`: it accepts exactly five digits."),
        assistant("Anything else?"),
    ],
    created_at=None,
)
GREETINGS = DonatedConversation(
    title="Translate 'good morning' into German.",
    source="sharegpt",
    turns=[
        user("Translate 'good morning' into German.\nJust the phrase, please."),
        assistant("Guten Morgen."),
        user("And into Spanish?"),
        assistant("Buenos días."),
    ],
    created_at=None,
)


# --- ChatGPT export --------------------------------------------------------------------------


def test_a_chatgpt_export_gives_the_branch_the_person_saw_last():
    # The first answer to the sourdough question was regenerated: neither it nor the follow-up
    # asked under it appears. System, custom instructions, code, tool output, an empty answer
    # and an image pointer are left out; the unanswered conversation is dropped.
    assert donation_parse(chatgpt_raw(), max_bytes=LIMIT) == [SOURDOUGH, BUDGET]


def test_the_regenerated_answer_is_still_in_the_fixture():
    mapping = json.loads(chatgpt_raw())[0]["mapping"]
    assert mapping["u-1"]["children"] == ["a-1-first", "a-1-regenerated"]
    assert mapping["a-1-first"]["message"]["content"]["parts"] == ["Yes, throw it away and start again."]


def test_moving_current_node_picks_the_other_branch():
    conversations = json.loads(chatgpt_raw())
    conversations[0]["current_node"] = "a-2-old"
    parsed = donation_parse(encoded(conversations), max_bytes=LIMIT)
    assert parsed[0].turns == [
        user("My sourdough starter smells like nail polish remover. Is it dead?"),
        assistant("Yes, throw it away and start again."),
        user("Really? It took me two weeks to make."),
        assistant("Sorry, a new one is quicker than saving it."),
    ]


def test_without_current_node_the_most_recent_branch_is_taken():
    conversations = json.loads(chatgpt_raw())
    del conversations[0]["current_node"]
    assert donation_parse(encoded(conversations[:1]), max_bytes=LIMIT) == [SOURDOUGH]


def test_a_single_chatgpt_conversation_is_accepted():
    conversation = json.loads(chatgpt_raw())[1]
    assert donation_parse(encoded(conversation), max_bytes=LIMIT) == [BUDGET]


def test_a_chatgpt_conversation_without_title_or_time_gets_its_first_prompt_as_title():
    conversation = json.loads(chatgpt_raw())[0]
    conversation["title"] = None
    conversation["create_time"] = None
    [parsed] = donation_parse(encoded(conversation), max_bytes=LIMIT)
    assert parsed.title == "My sourdough starter smells like nail polish remover. Is it dead?"
    assert parsed.created_at is None


def test_a_byte_order_mark_is_accepted():
    assert donation_parse(b"\xef\xbb\xbf" + chatgpt_raw(), max_bytes=LIMIT) == [SOURDOUGH, BUDGET]


# --- ShareGPT --------------------------------------------------------------------------------


def test_sharegpt_gives_user_and_assistant_turns():
    # system, a blank value and a function message are left out; "only-human_1" is dropped.
    assert donation_parse(sharegpt_raw(), max_bytes=LIMIT) == [HAIKU, REGEX, GREETINGS]


def test_a_single_sharegpt_conversation_is_accepted():
    conversation = json.loads(sharegpt_raw())[3]
    assert donation_parse(encoded(conversation), max_bytes=LIMIT) == [GREETINGS]


def test_a_long_first_prompt_makes_a_shortened_title():
    prompt = "Please explain " + "why the sky is blue and sunsets are red " * 4
    conversation = {"conversations": [{"from": "human", "value": prompt}, {"from": "gpt", "value": "Scattering."}]}
    [parsed] = donation_parse(encoded(conversation), max_bytes=LIMIT)
    assert parsed.title == "Please explain why the sky is blue and sunsets are red why the sky is blue and…"
    assert len(parsed.title) <= 80


# --- rejections ------------------------------------------------------------------------------


def test_a_file_over_the_limit_is_rejected_with_both_sizes():
    raw = sharegpt_raw()
    assert rejection(raw, max_bytes=1000) == f"The file is {len(raw):,} bytes, over the limit of 1,000 bytes."
    assert len(raw) == 1717
    assert rejection(raw, max_bytes=1000) == "The file is 1,717 bytes, over the limit of 1,000 bytes."


def test_a_file_exactly_at_the_limit_is_accepted():
    raw = sharegpt_raw()
    assert donation_parse(raw, max_bytes=len(raw)) == [HAIKU, REGEX, GREETINGS]


def test_a_file_that_is_not_utf8_is_rejected():
    raw = '[{"title": "café"}]'.encode("latin-1")
    assert rejection(raw) == "The file is not UTF-8 text (byte 0xe9 at offset 15)."
    assert rejection(b"\xef\xbb\xbf" + raw) == "The file is not UTF-8 text (byte 0xe9 at offset 18)."
    assert rejection(b"\xff\xfe[\x00]\x00") == "The file is not UTF-8 text (byte 0xff at offset 0)."


def test_invalid_json_is_rejected_with_its_line_and_column():
    raw = b'[\n  {"conversations": [],}\n]'
    assert rejection(raw) == (
        "The file is not valid JSON: Expecting property name enclosed in double quotes at line 2, column 24."
    )
    assert rejection(b'{"conversations": [') == "The file is not valid JSON: Expecting value at line 1, column 20."


def test_an_empty_file_is_rejected():
    assert rejection(b"") == "The file is empty."
    assert rejection(b" \n ") == "The file is empty."


@pytest.mark.parametrize(
    "data",
    [
        {"messages": [{"role": "user", "content": "hi"}]},
        [{"title": "no mapping"}],
        [1, 2, 3],
        "conversations.json",
        42,
        None,
        [{"conversations": []}, {"mapping": {}}],  # one of each is neither
        [{"mapping": []}],
    ],
)
def test_json_in_neither_format_is_rejected(data):
    assert rejection(encoded(data)) == "This file is neither a ChatGPT export (conversations.json) nor ShareGPT JSON."


def test_an_empty_list_is_rejected():
    assert rejection(b"[]") == "The file holds no conversations."


def test_a_file_with_no_usable_conversation_is_rejected():
    conversations = [
        {"id": "a", "conversations": [{"from": "human", "value": "Hello?"}]},
        {"id": "b", "conversations": [{"from": "system", "value": "Be nice."}, {"from": "gpt", "value": "Hi!"}]},
    ]
    assert rejection(encoded(conversations)) == (
        "No conversation in this file has both a message from you and an answer from the assistant."
    )
    unanswered = json.loads(chatgpt_raw())[2]
    assert rejection(encoded(unanswered)) == (
        "No conversation in this file has both a message from you and an answer from the assistant."
    )


def test_damaged_chatgpt_conversations_are_rejected_with_their_number():
    conversations = json.loads(chatgpt_raw())
    conversations[1]["current_node"] = "missing"
    assert rejection(encoded(conversations)) == (
        "Conversation 2 in the file is damaged: its current_node is not in its mapping."
    )

    conversations = json.loads(chatgpt_raw())
    conversations[0]["mapping"]["client-created-root"]["parent"] = "a-2"
    assert rejection(encoded(conversations)) == "Conversation 1 in the file is damaged: its messages form a loop."

    conversations = json.loads(chatgpt_raw())
    conversations[0]["mapping"]["u-2"]["parent"] = "gone"
    assert rejection(encoded(conversations)) == (
        "Conversation 1 in the file is damaged: a parent (gone) is not in its mapping."
    )

    conversations = json.loads(chatgpt_raw())
    conversations[0]["create_time"] = "yesterday"
    assert rejection(encoded(conversations)) == (
        "Conversation 1 in the file is damaged: its create_time is not a number of seconds."
    )

    conversations = json.loads(chatgpt_raw())
    conversations[0]["mapping"]["u-2"]["message"] = "text"
    assert rejection(encoded(conversations)) == "Conversation 1 in the file is damaged: a message is not an object."


def test_damaged_sharegpt_conversations_are_rejected_with_their_number():
    conversations = json.loads(sharegpt_raw())
    conversations[2]["conversations"].append({"from": "gpt", "value": None})
    assert rejection(encoded(conversations)) == (
        'Conversation 3 in the file is damaged: a message lacks a "from" or a "value" text.'
    )
    conversations = json.loads(sharegpt_raw())
    conversations[0]["conversations"][1] = ["human", "hi"]
    assert rejection(encoded(conversations)) == "Conversation 1 in the file is damaged: a message is not an object."


@pytest.mark.parametrize(
    "raw",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"mapping": {"a": 1}, "current_node": "a"}',
        b'{"mapping": {"a": {"parent": null, "children": ["a"]}}}',
        b'{"mapping": {"a": {"message": {"author": "user"}}}, "current_node": "a"}',
        b'{"mapping": {"a": {"message": null}}, "current_node": "a", "create_time": 1e300}',
        b'{"mapping": {"a": {"message": null}}, "current_node": "a", "create_time": NaN}',
        b'{"mapping": {}, "current_node": null}',
        b'{"conversations": [{"from": 1, "value": "x"}]}',
    ],
)
def test_odd_input_is_only_ever_rejected(raw):
    with pytest.raises(DonationRejected) as caught:
        donation_parse(raw, max_bytes=10_000_000)
    assert str(caught.value)
