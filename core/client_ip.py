"""The address a request came from, for login throttling (django-axes calls `client_ip_address`).

X-Forwarded-For is written by whoever sends the request, so it is believed only on a connection
from a trusted proxy (DJANGO_TRUSTED_PROXIES), and only as far as the deployment declares proxies
in front of Django (DJANGO_TRUSTED_PROXY_COUNT). Each proxy appends the address it received the
request from; with N trusted proxies the client is the N-th address from the right, and anything to
its left is whatever the client chose to send.
"""

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_ip_address(request: HttpRequest) -> str | None:
    remote_addr = request.META.get("REMOTE_ADDR")
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies == 0 or not _from_trusted_proxy(remote_addr):
        return remote_addr  # a client that reached gunicorn directly: its header is its own
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    if len(forwarded) < proxies:
        # Fewer hops than declared: the request did not come through the proxies as configured.
        return remote_addr
    candidate = forwarded[-proxies]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote_addr


def _from_trusted_proxy(remote_addr: str | None) -> bool:
    try:
        address = ipaddress.ip_address(remote_addr or "")
    except ValueError:
        return False
    return any(address in network for network in settings.TRUSTED_PROXIES)
