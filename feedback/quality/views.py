from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.vary import vary_on_headers

from community.selectors import community_get
from feedback.quality.agreement import agreement_interpretation
from feedback.quality.selectors import community_agreement, contributor_quality_list


@vary_on_headers("HX-Request")
def community_agreement_page(request: HttpRequest, slug: str) -> HttpResponse:
    """How much the community's volunteers agree: a fragment for the community page (htmx),
    or a page of its own."""
    community = community_get(slug=slug)
    agreement = community_agreement(community=community)
    rows = [("Rating", name, value) for name, value in agreement["ratings"].items()]
    rows += [("Flag", name, value) for name, value in agreement["flags"].items()]
    rows.append(("Claims", "True / false / subjective / unverifiable", agreement["claims"]))
    context = {
        "community": community,
        "rows": [(group, name, value, agreement_interpretation(value)) for group, name, value in rows],
        "counts": agreement["counts"],
    }
    template = "feedback/quality/agreement.html" + ("#agreement" if request.htmx else "")
    return render(request, template, context)


def contributor_quality_page(request: HttpRequest) -> HttpResponse:
    """Contributors' accuracy on gold items: for moderators and admins only."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    if not request.user.is_moderator:
        raise PermissionDenied("Only moderators and admins see contributors' accuracy.")
    return render(request, "feedback/quality/contributors.html", {"rows": contributor_quality_list()})
