"""Whether mail really leaves this platform, for the pages that say a mail was sent.

{% load mail_delivery %}
{% mail_is_printed_to_log as mail_is_printed %}
"""

from django import template
from django.conf import settings

register = template.Library()

CONSOLE_BACKEND = "django.core.mail.backends.console.EmailBackend"


@register.simple_tag
def mail_is_printed_to_log() -> bool:
    """True when mail goes to the console backend: printed to the web server's output (its log
    file, var/log/web.log, under run.sh) instead of being sent."""
    return settings.EMAIL_BACKEND == CONSOLE_BACKEND
