from html.parser import HTMLParser

import pytest

from feedback.rendering import markdown_to_safe_html


class TagCollector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def tags_of(html: str) -> list[tuple[str, dict]]:
    collector = TagCollector()
    collector.feed(html)
    return collector.tags


def test_markdown_is_rendered():
    html = markdown_to_safe_html("**Paris** is the capital.\n\n- one\n- two\n\n`code`")
    assert "<strong>Paris</strong>" in html
    assert "<li>one</li>" in html
    assert "<code>code</code>" in html


@pytest.mark.parametrize(
    "hostile",
    [
        "Hello <script>alert(1)</script>",
        '<img src="x" onerror="alert(1)">',
        '<a href="javascript:alert(2)">raw</a>',
        "[click](javascript:alert(1))",
        "![x](javascript:alert(1))",
        '<svg onload="alert(1)"></svg>',
        "<iframe src='https://example.org'></iframe>",
    ],
)
def test_hostile_markup_is_inert(hostile):
    tags = tags_of(markdown_to_safe_html(hostile))
    assert all(tag not in {"script", "svg", "iframe", "style"} for tag, _ in tags)
    for _, attrs in tags:
        assert not any(name.startswith("on") for name in attrs)
        assert not any("javascript:" in (value or "") for value in attrs.values())


def test_raw_html_is_shown_as_text():
    html = markdown_to_safe_html("Hello <script>alert(1)</script>")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_links_get_safe_rel():
    html = markdown_to_safe_html("[site](https://example.org)")
    assert '<a href="https://example.org" rel="noopener noreferrer nofollow">site</a>' in html


def test_documents_drop_their_title_and_keep_paragraphs_whole():
    from feedback.rendering import markdown_document_to_safe_html

    html = markdown_document_to_safe_html(
        "# Datasheet: x\n\n## Motivation\nOne line\nand the next.\n\n<script>x</script>"
    )
    assert html == "<h2>Motivation</h2>\n<p>One line\nand the next.</p>\n<p>&lt;script&gt;x&lt;/script&gt;</p>"
