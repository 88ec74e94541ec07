"""Route configurations compiled once per push: host → virtual host dicts, routes as match closures,
weighted cluster choice, retry policies as sets, header operations as bytes.

Everything here is immutable after `compile_route_table` and refers to cluster runtime objects directly, so
a request does a dict lookup, calls a few closures and picks a cluster without building anything.
"""

from __future__ import annotations

import bisect
import random
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mesh_runtime import xds

from .cors import CompiledCors, compile_cors
from .matchers import Match, MatchCompileError, RequestView, any_of, compile_regex, compile_route_match

if TYPE_CHECKING:
    from .cluster import ClusterState

FORWARD, REDIRECT, DIRECT_RESPONSE = 0, 1, 2

_ALL_5XX = frozenset(range(500, 600))
_GATEWAY_ERRORS = frozenset((502, 503, 504))
#: Remembered wildcard host lookups, per table.
_HOST_CACHE_LIMIT = 1024


#: Envoy's base interval between retries when the route sets none (Istio's `retries.backoff`).
DEFAULT_BACKOFF_BASE = 0.025


class ConfigError(ValueError):
    """A config the proxy rejects (its Nack reason); the message names the object."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How many times to retry (`retries` = Istio's attempts) and on what."""

    retries: int
    per_try_timeout: float | None
    on_connect_failure: bool
    on_reset: bool
    on_per_try_timeout: bool
    statuses: frozenset[int]
    #: Envoy's retry back-off: a try waits a random time up to min(base × (2^n − 1), 10 × base), seconds.
    backoff_base: float = DEFAULT_BACKOFF_BASE
    backoff_max: float = 10 * DEFAULT_BACKOFF_BASE


def compile_retry(retry: xds.Retry | None) -> RetryPolicy | None:
    if retry is None or retry.attempts <= 0:
        return None
    policies = {policy.strip() for policy in retry.retry_on if policy.strip()}
    statuses: set[int] = set()
    for policy in policies:
        if policy.isdigit():
            statuses.add(int(policy))
    if "5xx" in policies:
        statuses |= _ALL_5XX
    if "gateway-error" in policies:
        statuses |= _GATEWAY_ERRORS
    if "retriable-status-codes" in policies:
        statuses |= set(retry.retriable_status_codes)
    broad = bool(policies & {"5xx", "gateway-error", "reset"})
    base = retry.backoff or DEFAULT_BACKOFF_BASE
    return RetryPolicy(
        retries=retry.attempts,
        per_try_timeout=retry.per_try_timeout or None,
        on_connect_failure=broad or "connect-failure" in policies,
        on_reset=broad,
        on_per_try_timeout=broad,
        statuses=frozenset(statuses),
        backoff_base=base,
        backoff_max=10 * base,
    )


@dataclass(frozen=True, slots=True)
class HeaderOps:
    """Header set/add/remove, names lower-cased bytes; `lines` are the `name: value\\r\\n` to add."""

    drop: frozenset[bytes]
    lines: bytes

    def apply(self, lines: list[bytes], first: int) -> list[bytes]:
        """`lines[first:]` without the dropped names, then the added lines."""
        kept = lines[:first]
        for line in lines[first:]:
            name = line.split(b":", 1)[0].strip().lower()
            if name not in self.drop:
                kept.append(line)
        if self.lines:
            kept.append(self.lines)
        return kept


def compile_header_ops(*operations: xds.HeaderOperations | None) -> HeaderOps | None:
    drop: set[bytes] = set()
    lines: list[bytes] = []
    for ops in operations:
        if ops is None:
            continue
        drop |= {name.lower().encode() for name in ops.remove}
        drop |= {name.lower().encode() for name in ops.set}
        lines += [f"{name.lower()}: {value}\r\n".encode() for name, value in ops.set.items()]
        lines += [f"{name.lower()}: {value}\r\n".encode() for name, value in ops.add.items()]
    if not drop and not lines:
        return None
    return HeaderOps(frozenset(drop), b"".join(lines))


@dataclass(frozen=True, slots=True)
class WeightedTarget:
    cluster: ClusterState | None
    name: str
    request_ops: HeaderOps | None
    response_ops: HeaderOps | None


@dataclass(frozen=True, slots=True)
class PathRewrite:
    """Istio's rewrite: the matched prefix (or the whole path) replaced, or a regex substitution."""

    prefix: bytes | None
    regex: Any
    substitution: bytes
    authority: bytes | None
    #: For each match block, the part of the path it matched: (kind, value) with kind exact/prefix/other.
    matched: tuple[tuple[str, bytes], ...]


class CompiledRoute:
    """One route, ready for the request path. `slow` is true when anything beyond forwarding applies."""

    __slots__ = (
        "name",
        "origin",
        "match",
        "action",
        "cluster",
        "cluster_name",
        "targets",
        "cumulative",
        "total_weight",
        "timeout",
        "retry",
        "fault_delay",
        "fault_abort",
        "mirrors",
        "rewrite",
        "request_ops",
        "response_ops",
        "redirect",
        "direct_response",
        "extra_headers",
        "slow",
        "rewrites_response",
        "hash_policy",
        "match_blocks",
        "per_try_timeout",
        "cors",
    )

    def __init__(self) -> None:
        self.name = ""
        self.origin = ""
        self.match: Match | None = None
        #: The route's match blocks that can apply here, compiled, each with its index in the route's
        #: `matches` (a path rewrite needs to know which block matched).
        self.match_blocks: tuple[tuple[int, Match], ...] = ()
        self.action = FORWARD
        self.cluster: ClusterState | None = None
        self.cluster_name = ""
        self.targets: tuple[WeightedTarget, ...] = ()
        self.cumulative: tuple[int, ...] = ()
        self.total_weight = 0
        self.timeout: float | None = None
        self.retry: RetryPolicy | None = None
        self.fault_delay: xds.FaultDelay | None = None
        self.fault_abort: xds.FaultAbort | None = None
        self.mirrors: tuple[tuple[ClusterState, float], ...] = ()
        self.rewrite: PathRewrite | None = None
        self.request_ops: HeaderOps | None = None
        self.response_ops: HeaderOps | None = None
        self.redirect: xds.Redirect | None = None
        self.direct_response: xds.DirectResponse | None = None
        self.extra_headers = b""
        self.slow = False
        self.rewrites_response = False
        self.hash_policy: xds.LoadBalancer | None = None
        self.per_try_timeout: float | None = None
        self.cors: CompiledCors | None = None

    def pick_target(self, rand: Callable[[], float] = random.random) -> WeightedTarget:
        """A weighted destination (weights divided by their sum); only for routes with several."""
        point = int(rand() * self.total_weight)
        return self.targets[bisect.bisect_right(self.cumulative, point)]


class VirtualHostRoutes:
    __slots__ = ("name", "routes")

    def __init__(self, name: str, routes: tuple[CompiledRoute, ...]) -> None:
        self.name = name
        self.routes = routes


#: Stands for "not in the host cache yet" (None there is a cached miss).
_UNCACHED = VirtualHostRoutes("", ())


class RouteTable:
    """Host (lower case, with or without port) → virtual host, with Envoy's wildcard order: exact, then the
    longest `*.suffix`, then the longest `prefix*`, then `*`."""

    __slots__ = ("name", "exact", "suffixes", "prefixes", "default", "_cache")

    def __init__(self, name: str) -> None:
        self.name = name
        self.exact: dict[bytes, VirtualHostRoutes] = {}
        self.suffixes: list[tuple[bytes, VirtualHostRoutes]] = []
        self.prefixes: list[tuple[bytes, VirtualHostRoutes]] = []
        self.default: VirtualHostRoutes | None = None
        self._cache: dict[bytes, VirtualHostRoutes | None] = {}

    def add(self, domain: str, vhost: VirtualHostRoutes) -> None:
        key = domain.lower().encode()
        if key == b"*":
            self.default = self.default or vhost
        elif key.startswith(b"*"):
            self.suffixes.append((key[1:], vhost))
        elif key.endswith(b"*"):
            self.prefixes.append((key[:-1], vhost))
        else:
            self.exact.setdefault(key, vhost)

    def seal(self) -> None:
        self.suffixes.sort(key=lambda item: -len(item[0]))
        self.prefixes.sort(key=lambda item: -len(item[0]))

    def lookup(self, host: bytes) -> VirtualHostRoutes | None:
        found = self.exact.get(host)
        if found is not None:
            return found
        found = self._cache.get(host, _UNCACHED)
        if found is not _UNCACHED:
            return found
        found = self._wildcard(host)
        if found is None and b":" in host and not host.endswith(b"]"):
            bare = host.rsplit(b":", 1)[0]
            found = self.exact.get(bare) or self._wildcard(bare)
        if found is None:
            found = self.default
        if len(self._cache) < _HOST_CACHE_LIMIT:
            self._cache[host] = found
        return found

    def _wildcard(self, host: bytes) -> VirtualHostRoutes | None:
        for suffix, vhost in self.suffixes:
            if host.endswith(suffix) and len(host) > len(suffix):
                return vhost
        for prefix, vhost in self.prefixes:
            if host.startswith(prefix) and len(host) > len(prefix):
                return vhost
        return None


def find_route(table: RouteTable | None, request: RequestView) -> CompiledRoute | None:
    """The first route of the request's virtual host (by its authority) that matches it."""
    assert table is not None
    vhost = table.lookup(request.authority.lower())
    if vhost is None:
        return None
    for route in vhost.routes:
        match = route.match
        if match is None or match(request):
            return route
    return None


def compile_route_table(
    name: str,
    configs: Iterable[xds.RouteConfiguration],
    clusters: Mapping[str, ClusterState],
    node: xds.Node,
) -> RouteTable:
    """One table over the virtual hosts of `configs`, in order (the first to claim a domain keeps it)."""
    table = RouteTable(name)
    for config in configs:
        _add_virtual_hosts(table, config, clusters, node)
    table.seal()
    return table


def _add_virtual_hosts(
    table: RouteTable, config: xds.RouteConfiguration, clusters: Mapping[str, ClusterState], node: xds.Node
) -> None:
    for vindex, vhost in enumerate(config.virtual_hosts):
        where = f"route_configs[{config.name}].virtual_hosts[{vindex}]"
        routes = tuple(
            compiled
            for rindex, route in enumerate(vhost.routes)
            if (compiled := compile_route(route, f"{where}.routes[{rindex}]", clusters, node)) is not None
        )
        compiled_vhost = VirtualHostRoutes(vhost.name, routes)
        for domain in vhost.domains:
            table.add(domain, compiled_vhost)


def compile_route(
    route: xds.Route, where: str, clusters: Mapping[str, ClusterState], node: xds.Node
) -> CompiledRoute | None:
    """A route ready for requests; None when none of its matches can apply to this proxy."""
    compiled = CompiledRoute()
    compiled.name = route.name
    compiled.origin = route.origin
    if route.matches:
        blocks: list[tuple[int, Match]] = []
        for index, match in enumerate(route.matches):
            try:
                block = compile_route_match(match, f"{where}.matches[{index}]", node.labels, node.namespace)
            except MatchCompileError as exc:
                raise ConfigError(str(exc)) from None
            if block is not None:
                blocks.append((index, block))
        if not blocks:
            return None
        compiled.match_blocks = tuple(blocks)
        compiled.match = any_of([block for _, block in blocks])
    _compile_action(compiled, route, where, clusters)
    compiled.timeout = route.timeout or None
    compiled.retry = compile_retry(route.retry)
    compiled.per_try_timeout = compiled.retry.per_try_timeout if compiled.retry is not None else None
    compiled.fault_delay = (
        route.fault_delay if route.fault_delay and route.fault_delay.percentage > 0 else None
    )
    compiled.fault_abort = (
        route.fault_abort if route.fault_abort and route.fault_abort.percentage > 0 else None
    )
    compiled.mirrors = tuple(
        (clusters[mirror.cluster], mirror.percentage)
        for mirror in route.mirrors
        if mirror.cluster in clusters and mirror.percentage > 0
    )
    compiled.rewrite = compile_rewrite(route, where)
    if route.cors is not None:
        try:
            compiled.cors = compile_cors(route.cors, f"{where}.cors")
        except MatchCompileError as exc:
            raise ConfigError(str(exc)) from None
    compiled.request_ops = compile_header_ops(route.request_headers)
    compiled.response_ops = compile_header_ops(route.response_headers)
    if compiled.timeout:
        compiled.extra_headers = b"x-envoy-expected-rq-timeout-ms: %d\r\n" % int(compiled.timeout * 1000)
    compiled.rewrites_response = compiled.response_ops is not None or any(
        target.response_ops is not None for target in compiled.targets
    )
    compiled.slow = bool(
        compiled.action != FORWARD
        or compiled.fault_delay
        or compiled.fault_abort
        or compiled.mirrors
        or compiled.rewrite
        or compiled.request_ops
        or compiled.targets
        or compiled.cors is not None
    )
    return compiled


def _compile_action(
    compiled: CompiledRoute, route: xds.Route, where: str, clusters: Mapping[str, ClusterState]
) -> None:
    if route.direct_response is not None:
        compiled.action = DIRECT_RESPONSE
        compiled.direct_response = route.direct_response
        return
    if route.redirect is not None:
        compiled.action = REDIRECT
        compiled.redirect = route.redirect
        return
    weighted = [target for target in route.clusters if target.weight > 0]
    if not weighted:
        if route.clusters:
            weighted = [route.clusters[0]]
        else:
            raise ConfigError(f"{where}: a route needs clusters, a redirect or a direct response")
    if len(weighted) == 1 and weighted[0].request_headers is None and weighted[0].response_headers is None:
        compiled.cluster_name = weighted[0].cluster
        compiled.cluster = clusters.get(weighted[0].cluster)
        return
    total = 0
    cumulative = []
    targets = []
    for target in weighted:
        total += max(target.weight, 0) if len(weighted) > 1 else 1
        cumulative.append(total)
        targets.append(
            WeightedTarget(
                clusters.get(target.cluster),
                target.cluster,
                compile_header_ops(target.request_headers),
                compile_header_ops(target.response_headers),
            )
        )
    compiled.targets = tuple(targets)
    compiled.cumulative = tuple(cumulative)
    compiled.total_weight = total
    compiled.cluster_name = weighted[0].cluster


def compile_rewrite(route: xds.Route, where: str) -> PathRewrite | None:
    rewrite = route.rewrite
    if rewrite is None or (rewrite.uri is None and rewrite.authority is None and rewrite.uri_regex is None):
        return None
    regex = None
    substitution = b""
    if rewrite.uri_regex is not None:
        try:
            regex = compile_regex(rewrite.uri_regex[0], f"{where}.rewrite.uri_regex")
        except MatchCompileError as exc:
            raise ConfigError(str(exc)) from None
        substitution = _re2_substitution(rewrite.uri_regex[1])
    matched: list[tuple[str, bytes]] = []
    for match in route.matches:
        uri = match.uri
        if uri is not None and uri.kind in ("exact", "prefix"):
            matched.append((uri.kind, uri.value.encode()))
        else:
            matched.append(("other", b""))
    return PathRewrite(
        prefix=rewrite.uri.encode() if rewrite.uri is not None else None,
        regex=regex,
        substitution=substitution,
        authority=rewrite.authority.encode() if rewrite.authority else None,
        matched=tuple(matched),
    )


def _re2_substitution(text: str) -> bytes:
    r"""Envoy's regex_rewrite substitution uses `\1`; keep it as a Python template over bytes."""
    return re.sub(r"\\(\d)", r"\\\1", text).encode()


def matched_block(route: CompiledRoute, request: RequestView) -> int:
    """The index (in the route's `matches`) of the first block `request` matches; 0 when none does."""
    for index, match in route.match_blocks:
        if match(request):
            return index
    return 0


def rewrite_path(rewrite: PathRewrite, path: bytes, path_only: bytes, matched_block: int) -> bytes:
    """The upstream path after Istio's rewrite (query string kept)."""
    query = path[len(path_only) :]
    if rewrite.regex is not None:
        return bytes(rewrite.regex.sub(rewrite.substitution, path_only)) + query
    if rewrite.prefix is None:
        return path
    kind, value = rewrite.matched[matched_block] if matched_block < len(rewrite.matched) else ("other", b"")
    if kind == "exact":
        return rewrite.prefix + query
    if kind == "prefix" and path.startswith(value):
        return rewrite.prefix + path[len(value) :]
    return rewrite.prefix + path[1:] if path.startswith(b"/") else rewrite.prefix + path


def all_cluster_names(routes: Iterable[xds.RouteConfiguration]) -> set[str]:
    names: set[str] = set()
    for config in routes:
        for vhost in config.virtual_hosts:
            for route in vhost.routes:
                names.update(target.cluster for target in route.clusters)
                names.update(mirror.cluster for mirror in route.mirrors)
    return names
