from celery import shared_task

from inference.models import ModelEndpoint
from inference.services import endpoint_health_check


@shared_task(name="inference.endpoints_check_health", time_limit=120, ignore_result=True)
def endpoints_check_health(endpoint_ids: list[int] | None = None) -> None:
    """Check every active endpoint (or the given ones). Scheduled every minute by beat."""
    endpoints = ModelEndpoint.objects.filter(is_active=True)
    if endpoint_ids is not None:
        endpoints = ModelEndpoint.objects.filter(pk__in=endpoint_ids)
    for endpoint in endpoints:
        endpoint_health_check(endpoint=endpoint)
