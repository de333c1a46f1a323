"""The "My data" pages: everything a person contributed, by kind, with edit, delete, export
and account erasure. Views parse, call one service or selector, and render; htmx requests get
the fragment (a section of the list, the edit panel), others the whole page."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.core.paginator import Page, Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from community.errors import RequestRejected
from feedback.models import ClaimVerdict, FlagLabel
from feedback.mydata import selectors, services
from feedback.taskqueue.services.responses import NOTE_MAX_CHARS

PAGE_TEMPLATE = "feedback/mydata/page.html"
EDIT_TEMPLATE = "feedback/mydata/edit.html"
PAGE_SIZE = 10
RATING_FIELD_PREFIX = "rating-"


@dataclass(frozen=True)
class Section:
    kind: str
    title: str
    blurb: str
    items: Callable[[Any], Any]
    delete: Callable[..., None]
    is_editable: bool = False


SECTIONS = [
    Section(
        "conversations",
        "Arena conversations",
        "Prompts you wrote and the battles you judged.",
        lambda user: selectors.my_conversations(owner=user),
        lambda user, pk: services.conversation_delete(volunteer=user, conversation_id=pk),
    ),
    Section(
        "ratings",
        "Ratings",
        "Answers you rated, with your value on each scale.",
        lambda user: selectors.my_rating_submissions(volunteer=user),
        lambda user, pk: services.rating_delete(volunteer=user, assignment_id=pk),
        is_editable=True,
    ),
    Section(
        "flags",
        "Flags",
        "Problems you marked in answers.",
        lambda user: selectors.my_flag_responses(volunteer=user),
        lambda user, pk: services.flag_response_delete(volunteer=user, flag_response_id=pk),
        is_editable=True,
    ),
    Section(
        "rankings",
        "Rankings",
        "Answers you put in order, best first.",
        lambda user: selectors.my_rankings(volunteer=user),
        lambda user, pk: services.ranking_delete(volunteer=user, ranking_id=pk),
    ),
    Section(
        "claim_labels",
        "Claim checks",
        "Claims you marked true, false, subjective or unverifiable.",
        lambda user: selectors.my_claim_labels(volunteer=user),
        lambda user, pk: services.claim_label_delete(volunteer=user, claim_label_id=pk),
        is_editable=True,
    ),
    Section(
        "better_answers",
        "Better answers",
        "Answers you wrote to improve on a model's.",
        lambda user: selectors.my_corrections(volunteer=user),
        lambda user, pk: services.correction_delete(volunteer=user, correction_id=pk),
        is_editable=True,
    ),
    Section(
        "donations",
        "Donated conversations",
        "Conversations you brought from other assistants.",
        lambda user: selectors.my_donations(owner=user),
        lambda user, pk: services.donation_delete(volunteer=user, donation_id=pk),
    ),
]
SECTIONS_BY_KIND = {section.kind: section for section in SECTIONS}
KIND_NAMES = {
    "conversations": ("arena conversation", "arena conversations"),
    "battles": ("battle (vote)", "battles (votes)"),
    "ratings": ("rated answer", "rated answers"),
    "flags": ("flag", "flags"),
    "rankings": ("ranking", "rankings"),
    "claim_labels": ("claim check", "claim checks"),
    "claims": ("claim you worded", "claims you worded"),
    "better_answers": ("better answer", "better answers"),
    "donations": ("donated conversation", "donated conversations"),
    "revisions": ("earlier version of an edit", "earlier versions of your edits"),
    "memberships": ("community membership", "community memberships"),
}


def _section_page(request: HttpRequest, section: Section, page_number: object = None) -> Page:
    if page_number is None:
        page_number = request.GET.get(f"{section.kind}_page")
    return Paginator(section.items(request.user), PAGE_SIZE).get_page(page_number)


def _section_context(request: HttpRequest, section: Section, page_number: object = None) -> dict[str, Any]:
    return {
        "section": section,
        "page": _section_page(request, section, page_number),
        "flag_labels": FlagLabel.choices,
    }


def _rejected(request: HttpRequest, message: str, *, status: int) -> HttpResponse:
    """A refusal: for htmx, a notice swapped into the page's notice area; else a page."""
    if request.htmx:
        response = render(request, f"{PAGE_TEMPLATE}#notice", {"notice": message, "is_error": True}, status=status)
        response["HX-Retarget"] = "#mydata-notice"
        response["HX-Reswap"] = "outerHTML"
        return response
    return render(request, "feedback/mydata/rejected.html", {"message": message}, status=status)


def _signed_in(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Pages send anonymous visitors to log in; a write from one is refused with 403."""

    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.user.is_authenticated:
            return view(request, *args, **kwargs)
        if request.method == "POST":
            return _rejected(request, "Log in to change your data.", status=403)
        return redirect_to_login(request.get_full_path())

    wrapped.__name__ = view.__name__
    wrapped.__doc__ = view.__doc__
    return wrapped


@require_GET
@vary_on_headers("HX-Request")
@_signed_in
def my_data_page(request: HttpRequest) -> HttpResponse:
    """Everything the person contributed, by kind; htmx asks for one kind's page (`kind`)."""
    kind = request.GET.get("kind")
    if request.htmx and kind:
        section = SECTIONS_BY_KIND.get(kind)
        if section is None:
            raise Http404("No such kind of contribution.")
        return render(request, f"{PAGE_TEMPLATE}#section", _section_context(request, section))
    sections = [_section_context(request, section) for section in SECTIONS]
    unvoted = Paginator(selectors.my_battles_unvoted(judge=request.user), PAGE_SIZE).get_page(1)
    context = {"sections": sections, "flag_labels": FlagLabel.choices, "unvoted": unvoted}
    return render(request, PAGE_TEMPLATE, context)


@require_GET
@_signed_in
def my_data_export(request: HttpRequest) -> HttpResponse:
    """All of the person's data as one JSON document, downloaded as a file."""
    response = JsonResponse(selectors.my_data_export(user=request.user), json_dumps_params={"indent": 2})
    response["Content-Disposition"] = 'attachment; filename="feedback-commons-my-data.json"'
    response["Cache-Control"] = "no-store"
    return response


@require_POST
@vary_on_headers("HX-Request")
@_signed_in
def my_item_delete(request: HttpRequest, kind: str, item_id: int) -> HttpResponse:
    """Delete one item; htmx gets the kind's section again (same page), others a redirect."""
    section = SECTIONS_BY_KIND.get(kind)
    if section is None:
        return _rejected(request, "No such kind of contribution.", status=404)
    try:
        section.delete(request.user, item_id)
    except Http404:
        return _rejected(request, "No such item among yours: it may be deleted already.", status=404)
    if request.htmx:
        context = _section_context(request, section, request.POST.get("page"))
        return render(request, f"{PAGE_TEMPLATE}#section", {**context, "notice": "Deleted."})
    messages.success(request, "Deleted. It is out of the pool and will not be in any later release.")
    return redirect(f"{reverse('feedback:my_data')}#mydata-{kind}")


# Editing


@dataclass(frozen=True)
class Editable:
    title: str
    revision_kind: str
    get: Callable[[Any, int], Any]
    form_from_item: Callable[[Any], dict[str, Any]]
    form_from_post: Callable[[Any, QueryDict], dict[str, Any]]
    save: Callable[[Any, int, dict[str, Any]], Any]


def _rating_form(submission) -> dict[str, Any]:
    return {
        "scales": [(scale, str(value or "")) for scale, value in selectors.rating_form_scales(submission=submission)]
    }


def _rating_form_posted(submission, post: QueryDict) -> dict[str, Any]:
    values = {
        key.removeprefix(RATING_FIELD_PREFIX): value
        for key, value in post.items()
        if key.startswith(RATING_FIELD_PREFIX)
    }
    scales = [scale for scale, _ in selectors.rating_form_scales(submission=submission)]
    return {"scales": [(scale, values.get(scale.name, "")) for scale in scales], "values": values}


EDITABLES = {
    "ratings": Editable(
        "Edit your rating",
        selectors.REVISION_KIND_RATINGS,
        lambda user, pk: selectors.rating_submission_get_for(volunteer=user, assignment_id=pk),
        _rating_form,
        _rating_form_posted,
        lambda user, pk, form: services.rating_edit(volunteer=user, assignment_id=pk, ratings=form["values"]),
    ),
    "flags": Editable(
        "Edit your flags",
        selectors.REVISION_KIND_FLAG_RESPONSE,
        lambda user, pk: selectors.flag_response_get_for(volunteer=user, flag_response_id=pk),
        lambda flag: {"labels": flag.labels, "note": flag.note},
        lambda flag, post: {"labels": post.getlist("labels"), "note": post.get("note", "")},
        lambda user, pk, form: services.flag_response_edit(
            volunteer=user, flag_response_id=pk, labels=form["labels"], note=form["note"]
        ),
    ),
    "claim_labels": Editable(
        "Edit your claim check",
        selectors.REVISION_KIND_CLAIM_LABEL,
        lambda user, pk: selectors.claim_label_get_for(volunteer=user, claim_label_id=pk),
        lambda label: {"verdict": label.verdict},
        lambda label, post: {"verdict": post.get("verdict")},
        lambda user, pk, form: services.claim_label_edit(volunteer=user, claim_label_id=pk, verdict=form["verdict"]),
    ),
    "better_answers": Editable(
        "Edit your better answer",
        selectors.REVISION_KIND_MESSAGE,
        lambda user, pk: selectors.correction_get_for(volunteer=user, correction_id=pk),
        lambda message: {"text": message.text},
        lambda message, post: {"text": post.get("text", "")},
        lambda user, pk, form: services.correction_edit(volunteer=user, correction_id=pk, text=form["text"]),
    ),
}


def _edit_render(
    request: HttpRequest, kind: str, item: Any, form: dict[str, Any], *, error: str = "", notice: str = "", status=200
) -> HttpResponse:
    editable = EDITABLES[kind]
    context = {
        "kind": kind,
        "title": editable.title,
        "item": item,
        "form": form,
        "error": error,
        "notice": notice,
        "history": selectors.revision_history(kind=editable.revision_kind, object_id=item.pk),
        "flag_labels": FlagLabel.choices,
        "verdicts": ClaimVerdict.choices,
        "rating_values": ["1", "2", "3", "4", "5"],
        "note_max_chars": NOTE_MAX_CHARS,
    }
    template = f"{EDIT_TEMPLATE}#panel" if request.htmx else EDIT_TEMPLATE
    return render(request, template, context, status=status)


@require_http_methods(["GET", "POST"])
@vary_on_headers("HX-Request")
@_signed_in
def my_item_edit(request: HttpRequest, kind: str, item_id: int) -> HttpResponse:
    """GET: the item, a form with its current state, and its history. POST: save the edit."""
    editable = EDITABLES.get(kind)
    if editable is None:
        raise Http404("This kind of contribution cannot be edited.")
    item = editable.get(request.user, item_id)
    if request.method == "GET":
        return _edit_render(request, kind, item, editable.form_from_item(item))
    form = editable.form_from_post(item, request.POST)
    try:
        item = editable.save(request.user, item_id, form)
    except RequestRejected as rejected:
        return _edit_render(request, kind, item, form, error=rejected.message, status=rejected.status_code)
    if request.htmx:
        notice = "Saved. The earlier version is kept in the history below."
        return _edit_render(request, kind, item, editable.form_from_item(item), notice=notice)
    messages.success(request, "Saved. The earlier version is kept in the history.")
    return redirect("feedback:my_item_edit", kind=kind, item_id=item.pk)


# Erasure


@require_http_methods(["GET", "POST"])
@_signed_in
def my_account_erase(request: HttpRequest) -> HttpResponse:
    """GET: what erasure removes, and a form to confirm it with the account's e-mail address.
    POST: erase, log out, and say what was removed."""
    template = "feedback/mydata/erase.html"
    if request.method == "GET":
        return render(request, template, {"counts": _named(selectors.my_data_counts(user=request.user))})
    try:
        erasure = services.account_erase(user=request.user, email_confirmation=request.POST.get("email"))
    except RequestRejected as rejected:
        context = {"counts": _named(selectors.my_data_counts(user=request.user)), "error": rejected.message}
        return render(request, template, context, status=rejected.status_code)
    logout(request)
    return render(
        request, "feedback/mydata/erased.html", {"erasure": erasure, "removed": _named(erasure.items_removed)}
    )


def _named(counts: dict[str, int]) -> list[tuple[str, int]]:
    """The kinds that have items, with the words the page uses, in a stable order."""
    named = []
    for kind, count in counts.items():
        singular, plural = KIND_NAMES.get(kind, (kind.replace("_", " "),) * 2)
        if count:
            named.append((singular if count == 1 else plural, count))
    return named
