"""Data for the donation tests: export files built in the test (ChatGPT and ShareGPT), drafts
made through the real upload service, and a snapshot of everything a donation can write.
No tests here."""

import json
from pathlib import Path

from community.models import User
from feedback.donations.services import donation_upload
from feedback.models import Conversation, Donation, Message, TaskItem

DATA = Path(__file__).resolve().parent / "data"

# One conversation with personal information in its second user turn.
TURNS_WITH_PII = [
    ("user", "How do I write a polite complaint letter?"),
    ("assistant", "Start with what happened, then say what you would like done about it."),
    ("user", "Sign it for me: write to ada@example.org or call +44 20 7946 0018."),
    ("assistant", "Done: <b>Ada</b> signs it, and the letter gives both ways to reach her."),
]


def sharegpt_export(*conversations: list[tuple[str, str]], titles: list[str] | None = None) -> bytes:
    """ShareGPT JSON with these conversations, each a list of (role, text)."""
    senders = {"user": "human", "assistant": "gpt"}
    items = []
    for number, turns in enumerate(conversations):
        item = {
            "id": f"conversation-{number}",
            "conversations": [{"from": senders[role], "value": text} for role, text in turns],
        }
        if titles:
            item["title"] = titles[number]
        items.append(item)
    return json.dumps(items).encode()


def chatgpt_export(*conversations: list[tuple[str, str]], titles: list[str] | None = None) -> bytes:
    """A ChatGPT conversations.json with these conversations: a hidden system message at the
    root, then the turns as one branch that ends at `current_node`."""
    items = []
    for number, turns in enumerate(conversations):
        mapping = {"root": {"id": "root", "message": None, "parent": None, "children": ["system"]}}
        mapping["system"] = {
            "id": "system",
            "message": {"author": {"role": "system"}, "content": {"content_type": "text", "parts": [""]}},
            "parent": "root",
            "children": [],
        }
        parent = "system"
        for position, (role, text) in enumerate(turns):
            node_id = f"node-{position}"
            mapping[parent]["children"].append(node_id)
            mapping[node_id] = {
                "id": node_id,
                "message": {"author": {"role": role}, "content": {"content_type": "text", "parts": [text]}},
                "parent": parent,
                "children": [],
            }
            parent = node_id
        items.append(
            {
                "title": titles[number] if titles else f"Chat {number + 1}",
                "create_time": 1_717_171_717.5,
                "mapping": mapping,
                "current_node": parent,
            }
        )
    return json.dumps(items).encode()


def draft_create(*, owner: User, turns: list[tuple[str, str]] | None = None, source: str = "sharegpt") -> Donation:
    """One draft made through the upload service."""
    export = chatgpt_export if source == "chatgpt" else sharegpt_export
    (draft,) = donation_upload(owner=owner, raw=export(turns or TURNS_WITH_PII))
    return Donation.objects.get(pk=draft.pk)


def pool_snapshot() -> dict:
    """Everything uploading, reviewing, donating and deleting can change."""
    return {
        "donations": list(
            Donation.objects.order_by("pk").values_list(
                "pk", "owner_id", "status", "turns", "title", "community_id", "conversation_id", "donated_at"
            )
        ),
        "conversations": list(Conversation.objects.order_by("pk").values_list("pk", "owner_id", "community_id")),
        "messages": list(
            Message.objects.order_by("pk").values_list("pk", "conversation_id", "role", "text", "external_model")
        ),
        "task_items": list(TaskItem.objects.order_by("pk").values_list("pk", "kind", "answer_id")),
    }
