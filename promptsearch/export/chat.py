"""`chat`: the candidate as an OpenAI-style messages list, ready for any chat-completions API.

System message = the instruction, each demonstration = a user turn and an assistant turn, and a
final user turn with `{field}` placeholders. Only that last message is a template: fill it with
`content.replace("{review}", value)` (not str.format: the text may contain other braces). For a
candidate searched in the `chat` layout, the model's own chat template applied to the filled list
gives exactly the scored prompt; a `plain` candidate is converted into the same turns, except in
a search whose server had no /v1/completions (PLAIN_AS_USER_ATTR): its plain prompts were sent,
and scored, as one user message, so that one message is what is exported.
"""
from __future__ import annotations

import json

from promptsearch.export.formats import EXPORTERS
from promptsearch.export.source import task_of
from promptsearch.render.prompt import chat_messages
from promptsearch.search.rebuild import stored_candidate
from promptsearch.search.results import Entry
from promptsearch.storage.store import SearchRecord, Store

PLAIN_AS_USER_ATTR = "plain_as_user_message"  # study attribute, set by service.searches.create


@EXPORTERS.register("chat")
def chat_export(store: Store, record: SearchRecord, entry: Entry) -> str:
    if entry.candidate.template == "plain" and store.load_study(record).user_attrs.get(PLAIN_AS_USER_ATTR):
        messages = [{"role": "user", "content": entry.candidate.prompt}]
    else:
        messages = chat_messages(stored_candidate(entry.candidate), task_of(record))
    return json.dumps(messages, indent=2, ensure_ascii=False) + "\n"


def fill_messages(messages: list[dict[str, str]], values: dict[str, str]) -> list[dict[str, str]]:
    """The exported list with the last (template) message's placeholders filled in."""
    *head, last = messages
    content = last["content"]
    for name, value in values.items():
        content = content.replace("{" + name + "}", value)
    return [*map(dict, head), {**last, "content": content}]
