"""Reads for arena leaderboards. Leaderboards are public: nothing here depends on the viewer,
but every lookup from user input goes through here and answers 404 (or a clear 400) for
anything unknown or malformed."""

import re
from collections.abc import Mapping

from django.db.models import Max, QuerySet
from django.http import Http404

from community.errors import RequestRejected
from community.models import Community
from evaluation.leaderboards.scopes import Scope
from evaluation.models import LeaderboardCategory, LeaderboardRefresh, LeaderboardSnapshot

LANGUAGE_CODE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{1,8})*$")
TOPIC_MAX_CHARS = 40
SNAPSHOT_LIST_FIELDS = (
    "pk",
    "community",
    "category",
    "category_value",
    "style_control",
    "version",
    "battles_counted",
    "models_count",
    "code_version",
    "created_at",
)


def scope_parse(*, community: Community | None, params: Mapping[str, str]) -> Scope:
    """The scope a page or API request asks for: `topic=...` or `language=...` (or neither, for
    every battle) and `style=on|off`. Malformed parameters are a 400."""
    topic, language, style = params.get("topic"), params.get("language"), params.get("style", "off")
    if topic is not None and language is not None:
        raise RequestRejected("Choose a topic or a language, not both.")
    if style not in ("on", "off"):
        raise RequestRejected("style is on or off.")
    scope = Scope(community=community, style_control=style == "on")
    if topic is not None:
        topic = topic.strip()
        if not topic or len(topic) > TOPIC_MAX_CHARS:
            raise RequestRejected(f"A topic is a name of 1 to {TOPIC_MAX_CHARS} characters.")
        return scope.with_category(LeaderboardCategory.TOPIC, topic)
    if language is not None:
        if not LANGUAGE_CODE.match(language):
            raise RequestRejected("A language is a code such as en, fr or pt-BR.")
        return scope.with_category(LeaderboardCategory.LANGUAGE, language)
    return scope


def scope_check_known(scope: Scope) -> None:
    """404 for a topic or language that has no leaderboard in this community, unless it is one
    of the community's own topics (its page then says that it needs more battles) or the last
    refresh tried it and the engine refused its battles (its page then gives the reason)."""
    if scope.category == LeaderboardCategory.OVERALL:
        return
    snapshots = LeaderboardSnapshot.objects.filter(
        community=scope.community, category=scope.category, category_value=scope.value
    )
    if snapshots.exists() or scope_skip_reason(scope) is not None:  # the page says why it has none
        return
    if scope.category == LeaderboardCategory.TOPIC:
        communities = [scope.community] if scope.community else list(Community.objects.all())
        if any(scope.value in (community.topics or []) for community in communities):
            return
    raise Http404(f"There is no leaderboard for {scope.category} {scope.value!r} here.")


def snapshot_latest(scope: Scope) -> LeaderboardSnapshot | None:
    return (
        LeaderboardSnapshot.objects.filter(**scope.snapshot_filter())
        .select_related("community")
        .order_by("-version")
        .first()
    )


def snapshot_history(scope: Scope, *, limit: int = 8) -> list[LeaderboardSnapshot]:
    """The scope's latest versions, without their data."""
    return list(
        LeaderboardSnapshot.objects.filter(**scope.snapshot_filter())
        .only(*SNAPSHOT_LIST_FIELDS)
        .order_by("-version")[:limit]
    )


def scope_categories(*, community: Community | None) -> list[tuple[str, str]]:
    """The topics and languages that have a leaderboard here, as (category, value)."""
    rows = (
        LeaderboardSnapshot.objects.filter(community=community)
        .exclude(category=LeaderboardCategory.OVERALL)
        .values_list("category", "category_value")
        .distinct()
        .order_by("category", "category_value")
    )
    topics = [row for row in rows if row[0] == LeaderboardCategory.TOPIC]
    languages = [row for row in rows if row[0] == LeaderboardCategory.LANGUAGE]
    return [*topics, *languages]


def snapshot_get(*, snapshot_id: object) -> LeaderboardSnapshot:
    try:
        return LeaderboardSnapshot.objects.select_related("community").get(pk=snapshot_id)
    except (LeaderboardSnapshot.DoesNotExist, ValueError, TypeError, OverflowError):
        raise Http404("No such leaderboard snapshot.") from None


def snapshots_latest(*, community: Community | None = None, every_community: bool = True) -> QuerySet:
    """The latest snapshot of every scope (without data), two queries. `community` narrows it to
    one community's scopes; `every_community=False` to the scopes of all communities together."""
    snapshots = LeaderboardSnapshot.objects.all()
    if community is not None:
        snapshots = snapshots.filter(community=community)
    elif not every_community:
        snapshots = snapshots.filter(community__isnull=True)
    # Versions grow with ids within a scope, so the largest id is the latest version.
    latest_ids = (
        snapshots.values("community", "category", "category_value", "style_control")
        .annotate(latest=Max("pk"))
        .values_list("latest", flat=True)
    )
    return (
        LeaderboardSnapshot.objects.filter(pk__in=list(latest_ids))
        .select_related("community")
        .only(*SNAPSHOT_LIST_FIELDS, "community__slug", "community__name")
        .order_by("community__name", "category", "category_value", "style_control")
    )


def scope_skip_reason(scope: Scope) -> tuple[LeaderboardRefresh, str] | None:
    """The latest finished refresh and its reason, if it could not fit this scope's leaderboard
    (the engine refused its battles); None if it fitted it, left it unchanged or none has run."""
    refresh = (
        LeaderboardRefresh.objects.filter(status=LeaderboardRefresh.Status.SUCCEEDED)
        .only("skipped", "finished_at")
        .order_by("-created_at", "-pk")
        .first()
    )
    if refresh is None:
        return None
    community_id = scope.community.pk if scope.community else None
    for entry in refresh.skipped:
        if not isinstance(entry, dict):  # refreshes before the scope was recorded: words only
            continue
        if (entry.get("community_id"), entry.get("category"), entry.get("value"), entry.get("style_control")) == (
            community_id,
            scope.category,
            scope.value,
            scope.style_control,
        ):
            return refresh, str(entry.get("reason", ""))
    return None


def refresh_latest() -> LeaderboardRefresh | None:
    return LeaderboardRefresh.objects.order_by("-created_at", "-pk").first()


def refresh_get(*, refresh_id: object) -> LeaderboardRefresh:
    try:
        return LeaderboardRefresh.objects.get(pk=refresh_id)
    except (LeaderboardRefresh.DoesNotExist, ValueError, TypeError, OverflowError):
        raise Http404("No such refresh.") from None
