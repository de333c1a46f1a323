"""Model output and user text to safe HTML: Markdown rendered, then sanitised with nh3.

Raw HTML in the source is never passed through (markdown-it runs with `html` off), and nh3
drops every tag, attribute and URL scheme not on its allow-list, so `<script>`, `onerror=` and
`javascript:` links cannot reach a browser.
"""

import nh3
from markdown_it import MarkdownIt

_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False, "breaks": True}).enable(
    ["table", "strikethrough"]
)

_ALLOWED_TAGS = {
    "p", "br", "hr", "strong", "em", "del", "code", "pre", "blockquote",
    "ul", "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6",
    "table", "thead", "tbody", "tr", "th", "td", "a", "img",
}  # fmt: skip
_ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "ol": {"start"},
    "th": {"style"},
    "td": {"style"},
}


_document = MarkdownIt("commonmark", {"html": False, "linkify": False, "breaks": False}).enable(
    ["table", "strikethrough"]
)


def markdown_to_safe_html(text: str) -> str:
    """Render Markdown to HTML that is safe to put into a page as it is. A single newline is a
    line break, as people expect in chat."""
    return _clean(_markdown.render(text))


def markdown_document_to_safe_html(text: str) -> str:
    """A Markdown document (a datasheet, release notes) without its title line, whose heading
    the page shows already; single newlines are part of the paragraph, as in CommonMark."""
    lines = text.lstrip().splitlines()
    if lines and lines[0].startswith("# "):
        lines = lines[1:]
    return _clean(_document.render("\n".join(lines)))


def _clean(html: str) -> str:
    return nh3.clean(
        html.strip(),
        tags=_ALLOWED_TAGS,
        attributes=_ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )
