"""Where an ERP connection may point, checked when it is saved and again before every request.

The `http_json` transport sends the ERP's bearer token with every request, so its base URL decides
who receives the token and whose answers the OMS reads. A URL must use https (http only where
`OMS_ERP_ALLOW_HTTP` is on), and its host must resolve to public addresses only: private, loopback,
link-local, multicast and reserved ones (the cloud metadata service, the database, the admin port of
something on the internal network) are refused unless the host is listed in
`OMS_ERP_ALLOWED_PRIVATE_HOSTS`. A name can resolve differently by the time a request is sent (DNS
rebinding), so `PinnedTransport` resolves and checks it again and connects to the very address it
checked, keeping the name for the `Host` header and TLS.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

import httpx
from django.conf import settings
from django.utils.translation import gettext_noop

NOT_HTTPS = gettext_noop("The ERP address must start with https://.")
NO_HOST = gettext_noop("The ERP address needs a host name.")
UNRESOLVED = gettext_noop("The ERP host %(host)s cannot be resolved.")
PRIVATE_HOST = gettext_noop(
    "The ERP host %(host)s resolves to a private, loopback, link-local, multicast or reserved "
    "address (%(address)s); list it in OMS_ERP_ALLOWED_PRIVATE_HOSTS if it really is the ERP."
)


class AddressRefused(httpx.TransportError):
    """The URL may not be used for an ERP: `message` (untranslated) with `params` says why."""

    def __init__(self, message: str, **params: str):
        self.message, self.params = message, params
        super().__init__(message % params)


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 zone ("fe80::1%eth0") is no part
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def allowed_private(host: str) -> bool:
    return host.lower() in {h.lower() for h in settings.OMS_ERP_ALLOWED_PRIVATE_HOSTS}


def resolve(host: str, port: int) -> str:
    """The address to connect to for `host`: every address it resolves to must be public (or the
    host listed in `OMS_ERP_ALLOWED_PRIVATE_HOSTS`). Raises `AddressRefused`."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise AddressRefused(UNRESOLVED, host=host) from exc
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not allowed_private(host):
        for address in addresses:
            if not _is_public(address):
                raise AddressRefused(PRIVATE_HOST, host=host, address=address)
    return addresses[0]


def _host_and_port(url: str) -> tuple[str, int]:
    """The host and port of `url` once its scheme is allowed (`AddressRefused` otherwise)."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in (("https", "http") if settings.OMS_ERP_ALLOW_HTTP else ("https",)):
        raise AddressRefused(NOT_HTTPS)
    if not parts.hostname:
        raise AddressRefused(NO_HOST)
    return parts.hostname, parts.port or (443 if scheme == "https" else 80)


def check_base_url(url: str) -> None:
    """Refuse a base URL the `http_json` transport may not use (`AddressRefused`). A host listed in
    `OMS_ERP_ALLOWED_PRIVATE_HOSTS` is not resolved now: it is trusted, and resolved when used."""
    host, port = _host_and_port(url)
    if not allowed_private(host):
        resolve(host, port)


class PinnedTransport(httpx.HTTPTransport):
    """Checks every request's URL and connects to the address it checked (see the module's doc)."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        host, port = _host_and_port(str(request.url))
        request.url = request.url.copy_with(host=resolve(host, port))
        if request.url.scheme == "https":
            request.extensions = {**request.extensions, "sni_hostname": host}
        return super().handle_request(request)
