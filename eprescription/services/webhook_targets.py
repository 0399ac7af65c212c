"""Whether a webhook URL reaches only public addresses: what an organisation's subscription may
target, checked when it is made and again before each POST (docs/events.md, "Targets")."""

import ipaddress
import socket
from urllib.parse import urlsplit


def private_reason(url: str) -> str | None:
    """None when every address the URL's host resolves to is global; else why not (a
    loopback, private, link-local or reserved address, or a host that does not resolve)."""
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return "the URL's host is not valid"
    if not host:
        return "the URL names no host"
    try:
        found = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return f"{host} does not resolve"
    for *_, address in found:
        ip = ipaddress.ip_address(str(address[0]).partition("%")[0])
        if not ip.is_global:
            return f"{host} is not a public address ({ip})"
    return None
