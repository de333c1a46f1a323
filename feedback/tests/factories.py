import factory

from community.tests.factories import CommunityFactory, MembershipFactory, UserFactory
from feedback.arena import services
from feedback.models import Battle
from inference.models import ModelEndpoint


class ModelEndpointFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ModelEndpoint

    name = factory.Sequence(lambda n: f"Model {n}")
    kind = ModelEndpoint.Kind.OPENAI
    base_url = "http://127.0.0.1:9/v1"
    model_id = factory.Sequence(lambda n: f"test-model-{n}")
    community = factory.SubFactory(CommunityFactory)
    max_tokens = 12
    temperature = 0.0


def arena_setup(*, base_url: str = "http://127.0.0.1:9/v1", model_id: str | None = None, **endpoint_fields):
    """A community with a member and two endpoints; returns (community, member, endpoint_1, endpoint_2)."""
    membership = MembershipFactory()
    community = membership.community
    extra = {"model_id": model_id} if model_id else {}
    first = ModelEndpointFactory(community=community, base_url=base_url, **extra, **endpoint_fields)
    second = ModelEndpointFactory(community=community, base_url=base_url, **extra, **endpoint_fields)
    return community, membership.user, first, second


def battle_ready(*, judge=None, community=None, text_a="Answer A", text_b="Answer B", **start) -> Battle:
    """A battle whose two answers are complete, made through the real services."""
    if community is None:
        community, judge, _, _ = arena_setup()
    battle = services.battle_start(judge=judge, community=community, prompt_text="Tell me about tides.", **start)
    services.battle_answer_record(battle=battle, side="a", text=text_a)
    services.battle_answer_record(battle=battle, side="b", text=text_b)
    return services.battle_complete(battle=battle, errors={})


__all__ = [
    "CommunityFactory",
    "MembershipFactory",
    "ModelEndpointFactory",
    "UserFactory",
    "arena_setup",
    "battle_ready",
]


def answered_battle(**kwargs) -> Battle:
    """A complete arena battle; its two answers are queued for review (rate, flag, correct)."""
    return battle_ready(**kwargs)


def claims_proposed(*, answer, texts: list[str]):
    """Claims as the community's model would propose them, with the claim-check item queued."""
    from feedback.models import Claim, TaskKind
    from feedback.taskqueue.services.items import task_item_ensure

    claims = [Claim.objects.create(answer=answer, position=i, text=t) for i, t in enumerate(texts, start=1)]
    task_item_ensure(kind=TaskKind.CHECK_CLAIMS, answer=answer)
    return claims
