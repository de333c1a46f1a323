from django import template
from django.utils.safestring import mark_safe

from feedback.rendering import markdown_document_to_safe_html, markdown_to_safe_html

register = template.Library()


@register.filter
def as_markdown(text: str) -> str:
    """User text or model output as Markdown, sanitised with nh3 (safe to insert as it is)."""
    return mark_safe(markdown_to_safe_html(text or ""))  # noqa: S308 (sanitised by nh3 just above)


@register.filter
def as_document(text: str) -> str:
    """A Markdown document (datasheet, release notes) without its title, sanitised with nh3."""
    return mark_safe(markdown_document_to_safe_html(text or ""))  # noqa: S308 (sanitised by nh3 just above)
