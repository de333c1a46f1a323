"""The notice that a pool holds synthetic demo data (`Community.has_synthetic_data`, set by
`manage.py demo_data`), for every page that shows the pool: tasks, releases, leaderboards."""

from django import template

from community.models import Community

register = template.Library()


@register.inclusion_tag("feedback/synthetic_notice.html")
def synthetic_data_notice(community: Community | None = None) -> dict:
    """The notice for one community's pool or, without a community, for a page that shows every
    community's: it then names the communities that hold synthetic data. Nothing when none does."""
    if community is not None:
        names = [community.name] if community.has_synthetic_data else []
    else:
        names = list(Community.objects.filter(has_synthetic_data=True).order_by("name").values_list("name", flat=True))
    return {"names": names}
