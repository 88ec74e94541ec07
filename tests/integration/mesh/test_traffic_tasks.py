"""Issue 4's traffic-management "Done when", on the real Bookinfo mesh: Istio's own task files, applied
unchanged with `meshctl apply -f` on top of `destination-rule-all-mtls.yaml` (as Istio's tasks do), must give
the pages Istio's documentation describes (request routing, traffic shifting, fault injection, request
timeouts), and a service keeps answering while one of its two instances is killed under load.

One lab for the module (Bookinfo plus a second `details` instance). Each test applies its rules, waits until
every living sidecar is SYNCED at the store's revision (the rules are the sidecars' — the `mesh` gateway — so
meshd has nothing new for the ingress gateway), and deletes (or puts back) what it applied, waiting again.
Durations are only used as lower bounds showing that attempts took place; nothing asserts how long anything
takes.
"""

from __future__ import annotations

import dataclasses
import http.client
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml

from mesh_runtime.launcher import Lab, LabSpec, bookinfo_spec
from mesh_runtime.launcher.readiness import http_get
from tests.integration.mesh.running import DIRECT, WAIT, Mesh, Page

REVIEWS_UNAVAILABLE = "Sorry, product reviews are currently unavailable for this book."
RATINGS_UNAVAILABLE = "Ratings service is currently unavailable"
#: productpage waits 3 s for reviews and tries twice: a page that failed both attempts took at least this.
TWO_PRODUCTPAGE_TIMEOUTS = 5.5
#: The request-timeouts task's 0.5 s route timeout, tried twice by productpage.
TWO_ROUTE_TIMEOUTS = 0.9
SECOND_DETAILS = "details-v1-b"
LOAD_REQUESTS = 2000
LOAD_THREADS = 4

REQUEST_TIMEOUTS_RATINGS = """\
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: ratings
spec:
  hosts:
  - ratings
  http:
  - fault:
      delay:
        percentage:
          value: 100
        fixedDelay: 2s
    route:
    - destination:
        host: ratings
        subset: v1
"""
REQUEST_TIMEOUTS_REVIEWS = """\
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts:
  - reviews
  http:
  - route:
    - destination:
        host: reviews
        subset: v2
    timeout: 0.5s
"""
DETAILS_OUTLIER_DETECTION = """\
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: details
spec:
  host: details
  trafficPolicy:
    tls:
      mode: ISTIO_MUTUAL
    outlierDetection:
      consecutive5xxErrors: 1
      consecutiveGatewayErrors: 1
      interval: 1s
      baseEjectionTime: 30s
      maxEjectionPercent: 100
  subsets:
  - name: v1
    labels:
      version: v1
  - name: v2
    labels:
      version: v2
"""
DETAILS_RETRIES = """\
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: details
spec:
  hosts:
  - details
  http:
  - route:
    - destination:
        host: details
    retries:
      attempts: 3
      retryOn: connect-failure,refused-stream,503,gateway-error
"""


def lab_spec() -> LabSpec:
    """Bookinfo with a second instance of details (same labels, service account and command)."""
    spec = bookinfo_spec(gateway_routes=False)
    details = next(w for w in spec.workloads if w.name == "details-v1")
    second = dataclasses.replace(details, name=SECOND_DETAILS)
    return dataclasses.replace(spec, name="bookinfo-traffic", workloads=(*spec.workloads, second))


@dataclasses.dataclass
class TrafficMesh:
    mesh: Mesh
    networking: Path
    killed: set[str] = dataclasses.field(default_factory=set)

    @property
    def lab(self) -> Lab:
        return self.mesh.lab

    def living_sidecars(self) -> list[str]:
        return [p for p in self.mesh.sidecars() if p not in self.killed]

    def wait_synced(self) -> None:
        """Every living sidecar acknowledged a config at least as new as the store's revision."""
        self.mesh.wait_synced(self.living_sidecars())

    def apply(self, *files: str, inline: str = "") -> None:
        if files:
            self.mesh.apply(*(self.networking / f for f in files))
        if inline:
            result = self.mesh.meshctl("apply", "-f", "-", stdin=inline)
            assert result.code == 0, result
        self.wait_synced()

    def delete(self, *files: str, inline: str = "") -> None:
        """Delete what the files name; a file naming only what an earlier one named is already gone (Istio's
        task files reuse the names `reviews` and `ratings` of `virtual-service-all-v1.yaml`)."""
        named: set[tuple[str, str]] = set()
        distinct = []
        for file in files:
            documents = [d for d in yaml.safe_load_all((self.networking / file).read_text()) if d]
            names = {(d["kind"], d["metadata"]["name"]) for d in documents}
            if not names <= named:
                assert not names & named, f"{file} names some of what an earlier file names: {names & named}"
                distinct.append(self.networking / file)
            named |= names
        if distinct:
            self.mesh.delete(*distinct)
        if inline:
            result = self.mesh.meshctl("delete", "-f", "-", stdin=inline)
            assert result.code == 0, result
        self.wait_synced()

    @contextmanager
    def rules(self, *files: str, inline: str = "") -> Iterator[None]:
        """The rules applied and synced for the block; deleted and synced after it."""
        self.apply(*files, inline=inline)
        try:
            yield
        finally:
            self.delete(*files, inline=inline)


@pytest.fixture(scope="module")
def traffic(tmp_path_factory: pytest.TempPathFactory, networking: Path) -> Iterator[TrafficMesh]:
    lab = Lab(lab_spec(), tmp_path_factory.mktemp("lab"))
    lab.start()
    children = lab.children()
    try:
        traffic = TrafficMesh(Mesh(lab), networking)
        traffic.apply("bookinfo-gateway.yaml", "destination-rule-all-mtls.yaml")
        traffic.mesh.wait_for_page()
        yield traffic
    finally:
        report = lab.stop()
    assert report.clean, report
    assert not [c.name for c in children if c.alive()]
    for child in children:
        log = child.log_path.read_text(errors="replace")
        assert "Traceback" not in log, f"{child.name}:\n{log}"


# -- the page, as a browser gets it --------------------------------------------------------------------------


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


NO_REDIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())


def login(mesh: Mesh, user: str) -> str:
    """POST /login through the gateway; the session cookie (`name=value`) productpage set."""
    form = urllib.parse.urlencode({"username": user}).encode()
    request = urllib.request.Request(
        mesh.lab.gateway_url() + "/login",
        data=form,
        headers={"Content-Type": "application/x-www-form-urlencoded", "Referer": "/productpage"},
        method="POST",
    )
    try:
        with NO_REDIRECT.open(request, timeout=30) as reply:
            headers = reply.headers
    except urllib.error.HTTPError as redirect:
        assert redirect.code == 302, redirect.read()[:2000]
        headers = redirect.headers
    set_cookie = headers.get("Set-Cookie")
    assert set_cookie, f"no session cookie for {user}: {dict(headers)}"
    return str(set_cookie).split(";", 1)[0]


def page(mesh: Mesh, cookie: str = "") -> Page:
    request = urllib.request.Request(
        mesh.lab.gateway_url() + "/productpage", headers={"Cookie": cookie} if cookie else {}
    )
    try:
        with DIRECT.open(request, timeout=30) as reply:
            return Page(int(reply.status), reply.read().decode())
    except urllib.error.HTTPError as error:
        return Page(error.code, error.read().decode(errors="replace"))


def timed_page(mesh: Mesh, cookie: str = "") -> tuple[Page, float]:
    started = time.monotonic()
    got = page(mesh, cookie)
    return got, time.monotonic() - started


def stars_of(mesh: Mesh, count: int, cookie: str = "", threads: int = 4) -> Counter[str]:
    """The star colours of `count` pages fetched over a few threads; every page must be whole."""
    colours: Counter[str] = Counter()
    broken: list[str] = []
    lock = threading.Lock()
    remaining = iter(range(count))

    def fetch() -> None:
        while True:
            with lock:
                if next(remaining, None) is None:
                    return
            got = page(mesh, cookie)
            with lock:
                if got.ok():
                    colours[got.stars] += 1
                else:
                    broken.append(f"{got.status}: {got.body[:500]}")

    workers = [threading.Thread(target=fetch) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert not broken, broken[:3]
    assert sum(colours.values()) == count
    return colours


# -- request routing ----------------------------------------------------------------------------------------


def test_all_v1_gives_100_pages_without_stars(traffic: TrafficMesh) -> None:
    with traffic.rules("virtual-service-all-v1.yaml"):
        assert stars_of(traffic.mesh, 100) == Counter({"none": 100})


def test_reviews_test_v2_gives_jason_black_stars_and_anonymous_none(traffic: TrafficMesh) -> None:
    mesh = traffic.mesh
    with traffic.rules("virtual-service-all-v1.yaml", "virtual-service-reviews-test-v2.yaml"):
        jason = login(mesh, "jason")
        assert stars_of(mesh, 30, jason) == Counter({"black": 30})
        assert stars_of(mesh, 30) == Counter({"none": 30})
    # The control: the rules gone, jason's pages rotate over the three versions again.
    assert len(stars_of(mesh, 30, jason)) > 1


# -- traffic shifting ---------------------------------------------------------------------------------------


def test_reviews_50_v3_gives_red_stars_on_about_half_the_pages(traffic: TrafficMesh) -> None:
    with traffic.rules("virtual-service-all-v1.yaml", "virtual-service-reviews-50-v3.yaml"):
        colours = stars_of(traffic.mesh, 400)
    assert set(colours) <= {"red", "none"}, colours
    assert 0.40 * 400 <= colours["red"] <= 0.60 * 400, colours


def test_reviews_80_20_gives_black_stars_on_about_a_fifth_of_the_pages(traffic: TrafficMesh) -> None:
    with traffic.rules("virtual-service-all-v1.yaml", "virtual-service-reviews-80-20.yaml"):
        colours = stars_of(traffic.mesh, 400)
    assert set(colours) <= {"black", "none"}, colours
    assert 0.13 * 400 <= colours["black"] <= 0.27 * 400, colours


# -- fault injection ----------------------------------------------------------------------------------------


def test_ratings_delay_for_jason_fails_reviews_after_productpages_two_timeouts(traffic: TrafficMesh) -> None:
    mesh = traffic.mesh
    files = (
        "virtual-service-all-v1.yaml",
        "virtual-service-reviews-test-v2.yaml",
        "virtual-service-ratings-test-delay.yaml",
    )
    with traffic.rules(*files):
        jason = login(mesh, "jason")
        # Anonymous users go to reviews v1, which never calls ratings: unaffected.
        anonymous = page(mesh)
        assert anonymous.ok() and anonymous.stars == "none", anonymous.body[:2000]
        # jason's reviews v2 waits 10 s for ratings, delayed 7 s; productpage gives up after 3 s, twice.
        got, took = timed_page(mesh, jason)
        assert got.status == 200, got.body[:2000]
        assert REVIEWS_UNAVAILABLE in got.body, got.body[:2000]
        assert got.has_details, got.body[:2000]
        assert took >= TWO_PRODUCTPAGE_TIMEOUTS, f"reviews failed after {took:.2f}s: not after two attempts"


def test_ratings_abort_for_jason_shows_ratings_unavailable(traffic: TrafficMesh) -> None:
    mesh = traffic.mesh
    files = (
        "virtual-service-all-v1.yaml",
        "virtual-service-reviews-test-v2.yaml",
        "virtual-service-ratings-test-abort.yaml",
    )
    with traffic.rules(*files):
        jason = login(mesh, "jason")
        for _ in range(5):
            got = page(mesh, jason)
            assert got.ok(), got.body[:2000]
            assert RATINGS_UNAVAILABLE in got.body, got.body[:2000]
            assert got.stars == "none", got.body[:2000]
        anonymous = page(mesh)
        assert anonymous.ok() and RATINGS_UNAVAILABLE not in anonymous.body, anonymous.body[:2000]
    # The control: without the abort jason's reviews v2 shows its ratings as black stars.
    with traffic.rules("virtual-service-all-v1.yaml", "virtual-service-reviews-test-v2.yaml"):
        got = page(mesh, jason)
        assert got.ok() and got.stars == "black" and RATINGS_UNAVAILABLE not in got.body, got.body[:2000]


# -- request timeouts ---------------------------------------------------------------------------------------


def test_request_timeout_on_reviews_fails_it_after_two_short_attempts(traffic: TrafficMesh) -> None:
    """Istio's request-timeouts task: reviews → v2, ratings delayed 2 s, then a 0.5 s timeout on reviews."""
    mesh = traffic.mesh
    # all-v1 names VirtualServices reviews and ratings too: deleting it takes the task's two away as well.
    with traffic.rules("virtual-service-all-v1.yaml"):
        untimed = REQUEST_TIMEOUTS_REVIEWS.replace("    timeout: 0.5s\n", "")
        traffic.apply(inline=untimed + "---\n" + REQUEST_TIMEOUTS_RATINGS)
        # Before the timeout: reviews v2 waits out the 2 s delay and shows black stars.
        got = page(mesh)
        assert got.ok() and got.stars == "black", got.body[:2000]
        traffic.apply(inline=REQUEST_TIMEOUTS_REVIEWS)
        got, took = timed_page(mesh)
        assert got.status == 200, got.body[:2000]
        assert REVIEWS_UNAVAILABLE in got.body and got.has_details, got.body[:2000]
        assert took >= TWO_ROUTE_TIMEOUTS, f"reviews failed after {took:.2f}s: not after two attempts"


# -- resilience: an instance killed under load --------------------------------------------------------------


def _details_cluster(traffic: TrafficMesh, proxy_id: str) -> dict[str, str]:
    """Endpoint address → health, in the details cluster of `proxy_id`'s admin /clusters."""
    admin = traffic.lab.admin_ports()[proxy_id]
    statuses = json.loads(http_get(f"http://127.0.0.1:{admin}/clusters?format=json"))["cluster_statuses"]
    cluster = next(c for c in statuses if c["name"] == "outbound|9080||details.default.svc.cluster.local")
    return {h["address"]: h["health"] for h in cluster["hosts"]}


def test_killing_one_of_two_details_under_load_fails_almost_nothing_and_ejects_it(
    traffic: TrafficMesh,
) -> None:
    mesh, lab = traffic.mesh, traffic.lab
    caller = "productpage-v1.default"
    victim = lab.workloads[f"{SECOND_DETAILS}.default"]
    assert victim.proxy is not None
    dead_endpoint = f"127.0.0.1:{victim.inbound_port}"
    assert set(_details_cluster(traffic, caller)) == {
        dead_endpoint,
        f"127.0.0.1:{lab.workloads['details-v1.default'].inbound_port}",
    }
    traffic.apply(inline=DETAILS_OUTLIER_DETECTION + "---\n" + DETAILS_RETRIES)
    try:
        failures: list[str] = []
        served = 0
        lock = threading.Lock()
        issued = iter(range(LOAD_REQUESTS))
        halfway = threading.Event()

        def drive() -> None:
            nonlocal served
            while True:
                with lock:
                    number = next(issued, None)
                if number is None:
                    return
                if number == LOAD_REQUESTS // 2:
                    halfway.set()
                try:
                    status, body = mesh.outbound_get(caller, "http://details:9080/details/0")
                except (OSError, http.client.HTTPException) as exc:
                    status, body = 0, repr(exc).encode()
                with lock:
                    if status == 200 and b"William Shakespeare" in body:
                        served += 1
                    else:
                        failures.append(f"{status}: {body[:200]!r}")

        workers = [threading.Thread(target=drive) for _ in range(LOAD_THREADS)]
        for worker in workers:
            worker.start()
        assert halfway.wait(WAIT)
        victim.proxy.kill()
        victim.app.kill()
        traffic.killed.add(victim.spec.proxy_id)
        # The lab no longer runs it (its waits stop at any exited process); its ports are still checked.
        del lab.workloads[victim.spec.proxy_id]
        for worker in workers:
            worker.join()

        assert served + len(failures) == LOAD_REQUESTS
        assert len(failures) * 1000 < LOAD_REQUESTS, failures[:5]
        # The caller's proxy took the dead endpoint out of its load balancing: an outlier, ejected.
        health = _details_cluster(traffic, caller)
        assert health[dead_endpoint] == "/failed_outlier_check", health
        assert list(health.values()).count("healthy") == 1, health
        shown = mesh.meshctl("proxy-config", "endpoint", caller)
        assert shown.code == 0, shown
        # As istioctl shows it: meshd marked the disconnected instance UNHEALTHY; the caller ejected it.
        rows = {line.split()[3]: line.split() for line in shown.stdout.splitlines() if dead_endpoint in line}
        details_cluster = "outbound|9080||details.default.svc.cluster.local"
        assert rows[details_cluster][:3] == [dead_endpoint, "UNHEALTHY", "FAILED"], shown.stdout
    finally:
        traffic.delete(inline=DETAILS_RETRIES)
        traffic.apply("destination-rule-all-mtls.yaml")
