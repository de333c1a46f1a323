"""Proposing an answer's claims with the community's model, and queueing the claim check."""

import asyncio
import logging

from django.db import transaction

from feedback.models import Claim, Message, TaskKind
from feedback.taskqueue.claims import CLAIMS_PROMPT, claims_from_model_output, claims_from_sentences
from feedback.taskqueue.services.items import task_item_ensure
from inference.client import EndpointError, chat_stream
from inference.models import ModelEndpoint

logger = logging.getLogger(__name__)


def community_model_for(*, community) -> ModelEndpoint | None:
    """The model that splits claims for a community: its first active endpoint that is not down
    (the built-in model in the embedded default)."""
    return (
        ModelEndpoint.objects.filter(community=community, is_active=True)
        .exclude(health=ModelEndpoint.Health.DOWN)
        .order_by("pk")
        .first()
    )


async def _model_reply(endpoint: ModelEndpoint, answer_text: str) -> str:
    parts = [
        token
        async for token in chat_stream(
            base_url=endpoint.url,
            model=endpoint.model_id,
            messages=[{"role": "user", "content": CLAIMS_PROMPT.format(answer=answer_text)}],
            temperature=0.0,
            top_p=1.0,
            max_tokens=300,
            timeout=endpoint.timeout,
            api_key=endpoint.api_key,
        )
    ]
    return "".join(parts)


def answer_claims_split(*, answer: Message) -> list[Claim]:
    """Propose the answer's claims (once) and queue the claim check.

    The community's model splits the answer; when it is unreachable (EndpointError, which the
    Celery task retries) the error propagates; when it answers with nothing usable, the answer
    is split into sentences instead.
    """
    existing = list(answer.claims.filter(author__isnull=True))
    if existing:
        return existing
    endpoint = community_model_for(community=answer.conversation.community)
    texts: list[str] = []
    if endpoint is not None:
        texts = claims_from_model_output(asyncio.run(_model_reply(endpoint, answer.text)), answer.text)
    if not texts:
        logger.info("Claims of answer %s split into sentences: the model gave none", answer.pk)
        texts = claims_from_sentences(answer.text)
    with transaction.atomic():
        claims = Claim.objects.bulk_create(
            Claim(answer=answer, position=position, text=text) for position, text in enumerate(texts, start=1)
        )
        if claims:
            task_item_ensure(kind=TaskKind.CHECK_CLAIMS, answer=answer)
    return claims


__all__ = ["EndpointError", "answer_claims_split", "community_model_for"]
