"""Writes for model endpoints."""

import asyncio

from django.utils import timezone

from inference.client import EndpointError, endpoint_check
from inference.models import ModelEndpoint


def endpoint_health_check(*, endpoint: ModelEndpoint) -> ModelEndpoint:
    """Ask the endpoint for its model list and record whether it is up and serves its model.

    The arena stops drawing an endpoint that is down and takes it back once it answers again.
    """
    try:
        served = asyncio.run(endpoint_check(base_url=endpoint.url, api_key=endpoint.api_key, timeout=10.0))
    except EndpointError as error:
        health, detail = ModelEndpoint.Health.DOWN, str(error)
    else:
        if endpoint.model_id in served:
            health, detail = ModelEndpoint.Health.UP, ""
        else:
            health, detail = ModelEndpoint.Health.DOWN, f"The server does not serve {endpoint.model_id!r}."
    ModelEndpoint.objects.filter(pk=endpoint.pk).update(
        health=health, health_detail=detail[:300], health_checked_at=timezone.now()
    )
    endpoint.refresh_from_db()
    return endpoint
