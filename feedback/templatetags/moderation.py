from django import template

register = template.Library()


@register.inclusion_tag("feedback/moderation/report_box.html", takes_context=True)
def report_button(context, target_kind: str, target_id: int, label: str = "Report", number: int | None = None) -> dict:
    """A "Report" toggle with the report form inline (htmx posts it and swaps in the answer).
    Never inside another form. `number` labels it "Report answer <number>"."""
    request = context.get("request")
    return {
        "target_kind": target_kind,
        "target_id": target_id,
        "label": f"Report answer {number}" if number is not None else label,
        "reasons": _reasons(),
        "csrf_token": context.get("csrf_token"),
        "next": request.get_full_path() if request is not None else "",
    }


def _reasons():
    from feedback.models import ReportReason

    return ReportReason.choices
