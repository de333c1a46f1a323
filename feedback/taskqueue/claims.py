"""Splitting an answer into atomic claims (pure, no Django): the prompt the community's model
gets, and the parsing of what it writes back, with a split of the answer as people read it
(its Markdown removed, one claim per sentence) as the fallback.

What a reader of the rendered answer sees is what a claim says: emphasis, inline code and
links are reduced to their text; headings (titles, not assertions), code blocks, rules and
link reference definitions are left out; each list item, table row and paragraph is read on its
own, so a sentence never runs from one item into the next; a table row reads as its header's
names with its cells ("City: Paris; Country: France"). A sentence said twice is one claim.
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass

CLAIMS_PROMPT = (
    "Split the answer below into short, self-contained factual claims. "
    "Write one claim per line. Do not number them and do not add anything else.\n\nAnswer:\n{answer}"
)
MAX_CLAIMS = 20
CLAIM_MIN_CHARS = 8

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-ZÀ-ÖØ-Þ0-9\"'“])")

# Block structure (CommonMark and GitHub tables, as far as claims need them).
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_HEADING = re.compile(r"^ {0,3}#{1,6}(?:\s|$)")
_SETEXT_UNDERLINE = re.compile(r"^ {0,3}(?:=+|-+)\s*$")
_RULE = re.compile(r"^ {0,3}(?:(?:\*\s*){3,}|(?:-\s*){3,}|(?:_\s*){3,})$")
_REFERENCE_DEFINITION = re.compile(r"^ {0,3}\[[^\]]+\]:\s*\S+")
_BLOCKQUOTE = re.compile(r"^ {0,3}>\s?")
_BULLET_ITEM = re.compile(r"^\s*(?:[-*+•])\s+(?:\[[ xX]\]\s+)?")
_ORDERED_ITEM = re.compile(r"^\s*(?:(\d{1,9})[.)]|\((\d{1,9})\))\s+(?:\[[ xX]\]\s+)?")
_TABLE_DELIMITER = re.compile(r"^\s*\|?\s*:?-+:?\s*(?:\|\s*:?-+:?\s*)*\|?\s*$")

# Inline markup.
_CODE_SPAN = re.compile(r"(`+)(.+?)\1")
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\[[^\]]*\])")
_AUTOLINK = re.compile(r"<((?:https?|mailto|ftp):[^>\s]+|[^>\s@]+@[^>\s@]+)>")
_STRONG = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_EMPHASIS_STAR = re.compile(r"(?<![\w*])\*(?=[^\s*])(.+?)(?<=[^\s*])\*(?![\w*])")
_EMPHASIS_UNDERSCORE = re.compile(r"(?<![\w_])_(?=[^\s_])(.+?)(?<=[^\s_])_(?![\w_])")
_STRIKETHROUGH = re.compile(r"~~(?=\S)(.+?)(?<=\S)~~")
_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|~>])")
_SPACES = re.compile(r"\s+")

# A line of the model's reply: its bullet or number.
_LINE_MARKER = re.compile(r"^\s*(?:[-*+•]+|\d+[.)]|\(\d+\))\s*")


@dataclass
class _Block:
    """One unit a reader takes in on its own: a paragraph, a list item or a table row."""

    lines: list[str]
    is_list_item: bool = False
    is_sentences: bool = True  # False for a table row: one claim as it stands


def inline_text(text: str) -> str:
    """`text` without inline Markdown: code spans, links and images as their text, emphasis and
    strikethrough markers removed, backslash escapes resolved, runs of spaces made one."""
    pieces = []
    position = 0
    for span in _CODE_SPAN.finditer(text):
        pieces.append(_inline_markup_removed(text[position : span.start()]))
        pieces.append(span.group(2).strip())
        position = span.end()
    pieces.append(_inline_markup_removed(text[position:]))
    return _SPACES.sub(" ", "".join(pieces)).strip()


def _inline_markup_removed(text: str) -> str:
    text = _IMAGE.sub(r"\1", text)
    text = _LINK.sub(r"\1", text)
    text = _AUTOLINK.sub(r"\1", text)
    for pattern in (_STRONG, _STRONG, _STRIKETHROUGH):  # twice: bold inside bold-underscore
        text = pattern.sub(lambda match: match.group(match.lastindex), text)
    text = _EMPHASIS_STAR.sub(r"\1", text)
    text = _EMPHASIS_UNDERSCORE.sub(r"\1", text)
    return _ESCAPE.sub(r"\1", text)


def _table_cells(line: str) -> list[str]:
    row = line.strip()
    row = row.removeprefix("|")
    if row.endswith("|") and not row.endswith("\\|"):
        row = row[:-1]
    return [inline_text(cell) for cell in re.split(r"(?<!\\)\|", row)]


def _table_row_text(header: list[str], cells: list[str]) -> str:
    parts = []
    for index, cell in enumerate(cells):
        if not cell:
            continue
        name = header[index] if index < len(header) else ""
        parts.append(f"{name}: {cell}" if name else cell)
    return "; ".join(parts)


def answer_blocks(answer: str) -> Iterator[_Block]:
    """The answer's paragraphs, list items and table rows in order, as `_Block`s of raw lines
    (inline markup still in); headings, code blocks, rules and reference definitions left out."""
    lines = answer.splitlines()
    current: _Block | None = None
    index = 0
    while index < len(lines):
        line = _BLOCKQUOTE.sub("", lines[index])
        while _BLOCKQUOTE.match(line):
            line = _BLOCKQUOTE.sub("", line)
        index += 1
        fence = _FENCE.match(line)
        if fence:
            if current:
                yield current
            current = None
            marker = fence.group(1)
            while index < len(lines):
                closing = _FENCE.match(lines[index].lstrip(">").lstrip())
                index += 1
                if closing and closing.group(1)[0] == marker[0] and len(closing.group(1)) >= len(marker):
                    break
            continue
        if not line.strip():
            if current:
                yield current
            current = None
            continue
        if _SETEXT_UNDERLINE.match(line) and current and not current.is_list_item and "=" in line:
            current = None  # the paragraph above was a heading
            continue
        if _RULE.match(line):
            if current and not current.is_list_item and set(line.strip()) == {"-"}:
                current = None  # `---` under a paragraph makes it a heading
            elif current:
                yield current
                current = None
            continue
        if _HEADING.match(line) or _REFERENCE_DEFINITION.match(line):
            if current:
                yield current
            current = None
            continue
        if "|" in line and index < len(lines) and "|" in lines[index] and _TABLE_DELIMITER.match(lines[index]):
            if current:
                yield current
            current = None
            header = _table_cells(line)
            index += 1
            while index < len(lines) and "|" in lines[index] and lines[index].strip():
                text = _table_row_text(header, _table_cells(lines[index]))
                if text:
                    yield _Block([text], is_sentences=False)
                index += 1
            continue
        bullet = _BULLET_ITEM.match(line)
        ordered = _ORDERED_ITEM.match(line)
        # A numbered line interrupts a paragraph only when it starts a list at 1 (CommonMark):
        # "... founded in\n1999. It grew" is one paragraph.
        if ordered and current and not current.is_list_item and (ordered.group(1) or ordered.group(2)) != "1":
            ordered = None
        if bullet or ordered:
            if current:
                yield current
            current = _Block([line[(bullet or ordered).end() :]], is_list_item=True)
            continue
        if current is None:
            current = _Block([])
        current.lines.append(line)
    if current:
        yield current


def _claim_key(claim: str) -> str:
    """What makes two claims the same one: case, spacing and final punctuation aside."""
    return _SPACES.sub(" ", claim.casefold()).strip().rstrip(".!?;:").strip()


def claims_from_model_output(output: str, answer: str) -> list[str]:
    """The claims in the model's reply: one per line, bullets, numbers and inline Markdown
    removed, duplicates and lines that merely repeat the instruction dropped. Empty if the
    reply is unusable."""
    claims: list[str] = []
    seen: set[str] = set()
    for line in output.splitlines():
        if _HEADING.match(line):
            continue
        claim = inline_text(_LINE_MARKER.sub("", line)).strip('"').strip()
        key = _claim_key(claim)
        if len(claim) < CLAIM_MIN_CHARS or claim.lower().startswith(("answer:", "claims:", "here are")) or key in seen:
            continue
        seen.add(key)
        claims.append(claim)
    return claims[:MAX_CLAIMS]


def claims_from_sentences(answer: str) -> list[str]:
    """One claim per sentence of the answer as it reads once rendered (see the module's
    docstring): the fallback when the model gives nothing usable (volunteers can edit, split or
    add claims in the task)."""
    claims: list[str] = []
    seen: set[str] = set()
    for block in answer_blocks(answer):
        text = inline_text(" ".join(line.strip() for line in block.lines))
        sentences = _SENTENCE_END.split(text) if block.is_sentences else [text]
        for sentence in sentences:
            sentence = sentence.strip()
            key = _claim_key(sentence)
            if len(sentence) < CLAIM_MIN_CHARS or key in seen:
                continue
            seen.add(key)
            claims.append(sentence)
    return claims[:MAX_CLAIMS]
