"""The routed request as route matches, authorization policies and hash-based balancing read it.

`RoutedRequestView` is a base of the downstream connection: matchers.RequestView and authz.AuthzRequest are
implemented here, over the parsed head (its own base, request_head.RequestHead) and the fields the
connection sets when it dispatches the request. It is a class,
not a set of functions, because the matchers and policies call these methods on the request itself. Its one
slot of its own is the header dict it builds, at most once per request, when a header is asked for by name.
"""

from __future__ import annotations

import urllib.parse
from typing import TYPE_CHECKING

from .authz import principal_of
from .request_head import RequestHead

if TYPE_CHECKING:
    from .cluster import ClusterState
    from .config import ListenerConfig


class RoutedRequestView(RequestHead):
    """Read-only views of the current request (set by the subclass: the downstream connection)."""

    __slots__ = ("header_map",)

    header_map: dict[bytes, bytes] | None
    listener: ListenerConfig
    method: bytes
    path: bytes
    authority: bytes
    scheme: bytes
    peer_address: bytes
    peer_identity: str

    # -- the request view used by route matches -----------------------------------------------------------

    @property
    def port(self) -> int:
        if self.listener.kind == "outbound":
            host = self.authority
            if b":" in host and not host.endswith(b"]"):
                try:
                    return int(host.rsplit(b":", 1)[1])
                except ValueError:
                    return 0
            return 80
        return self.listener.port

    def path_only(self) -> bytes:
        path = self.path
        index = path.find(b"?")
        return path if index < 0 else path[:index]

    def header(self, name: bytes) -> bytes | None:
        headers = self.header_map
        if headers is None:
            headers = {}
            for line in self.lines[1:]:
                key, _, value = line.partition(b":")
                key = key.strip().lower()
                value = value.strip()
                headers[key] = headers[key] + b"," + value if key in headers else value
            self.header_map = headers
        return headers.get(name)

    def query_param(self, name: str) -> str | None:
        path = self.path
        index = path.find(b"?")
        if index < 0:
            return None
        for key, value in urllib.parse.parse_qsl(path[index + 1 :].decode("latin-1"), keep_blank_values=True):
            if key == name:
                return value
        return None

    # -- the request view used by authorization policies --------------------------------------------------

    @property
    def source_principal(self) -> str:
        return principal_of(self.peer_identity)

    @property
    def source_ip(self) -> str:
        return self.peer_address.decode("latin-1")

    @property
    def request_method(self) -> str:
        return self.method.decode("latin-1")

    @property
    def request_path(self) -> str:
        return self.path_only().decode("latin-1")

    @property
    def request_host(self) -> str:
        return self.authority.decode("latin-1")

    @property
    def destination_port(self) -> int:
        return self.listener.authz_port

    def request_header(self, name: str) -> str | None:
        value = self.header(name.encode("latin-1"))
        return value.decode("latin-1") if value is not None else None

    # -- the key a consistent-hash balancer picks by ----------------------------------------------------

    def hash_key(self, cluster: ClusterState) -> bytes | None:
        policy = cluster.hash_policy
        assert policy is not None
        if policy.hash_header:
            return self.header(policy.hash_header.lower().encode())
        if policy.hash_cookie:
            cookies = self.header(b"cookie")
            if cookies:
                wanted = policy.hash_cookie.encode() + b"="
                for part in cookies.split(b";"):
                    part = part.strip()
                    if part.startswith(wanted):
                        return part[len(wanted) :]
            return None
        if policy.hash_source_ip:
            return self.peer_address
        if policy.hash_query_parameter:
            value = self.query_param(policy.hash_query_parameter)
            return value.encode() if value is not None else None
        return None
