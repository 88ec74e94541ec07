"""The CA: workload certificates issued per second on one core by meshd's own signing code, beside
`openssl x509 -req` signing the same CSRs, one process per certificate (the baseline issue 13 names).

What is measured, pinned to one CPU (MEASURED_CPU), over a fixed set of CSRs made before any timing (so no
key generation is counted; ECDSA P-256 keys and CSRs as `mesh_runtime.ca.build_csr` makes them, the
workload's side):

- in process: `CertificateAuthority.sign_csr(csr, [identity], ttl)`, the call meshd's `POST /v1/certificates`
  handler makes, with the CA meshd creates on first start (`load_or_create`: a self-signed ECDSA P-256 root)
  and the TTL the proxy's agent asks for (24 h); CSR parsing and its signature check included, as in meshd;
- the baseline: `openssl x509 -req` on the same CSR with the same CA key and certificate, giving the leaf the
  same extensions (basic constraints, key usage, extended key usage, the SPIFFE URI SAN, subject and
  authority key identifiers), a random serial and one day of validity; one process after the other, each
  started and waited for, so process start-up is part of every certificate, as a shell loop would do;
- unless `--no-round-trip`, the whole request through a running meshd: a `meshd serve` of its own (temp
  data directory, ports picked by the kernel) pinned to MEASURED_CPU, and one client on LOAD_CPU posting
  CSRs one after the other to `/v1/certificates` over TLS, a new connection each, as the proxy's agent does.

Each figure is a rate by the wall clock (certificates / elapsed seconds) and, beside it, by CPU time
(certificates / CPU seconds of the process(es) that did the work), which the other work on a shared machine
disturbs less. Several runs, alternating the two sides; the median is the figure.

    .venv/bin/python -m bench.ca                     # the full run (make bench-ca)
    .venv/bin/python -m bench.ca --certs 200 --openssl-certs 40 --round-trip-certs 40 --runs 2   # smoke
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import resource
import secrets
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from bench.common import LOAD_CPU, MEASURED_CPU, BenchError, Figure, Result, cpu_seconds, median, need, pinned
from mesh_runtime.ca import CertificateAuthority, Identity, build_csr, generate_key
from mesh_runtime.ca.authority import CA_CERT_FILE, CA_KEY_FILE

#: The TTL the proxy's agent asks for (mesh_runtime.proxy.agent.CERT_TTL_SECONDS, Istio's SECRET_TTL).
WORKLOAD_TTL = timedelta(hours=24)
TRUST_DOMAIN = "cluster.local"
NAMESPACE = "default"
#: meshd's log line once it listens (tests/integration/meshd/running.py reads the same line).
READY = re.compile(r"meshd ready: discovery \S+:(?P<port>\d+),")
START_TIMEOUT = 30.0
REQUEST_TIMEOUT = 30.0


@dataclass(frozen=True)
class Rate:
    """One run of one side: certificates made, over the wall clock and over the CPU time spent on them."""

    certificates: int
    wall_seconds: float
    cpu_seconds: float

    @property
    def per_second(self) -> float:
        return per_second(self.certificates, self.wall_seconds)

    @property
    def per_cpu_second(self) -> float:
        return per_second(self.certificates, self.cpu_seconds)


def per_second(count: int, seconds: float) -> float:
    if count < 0:
        raise ValueError(f"a count of {count} certificates")
    if seconds <= 0:
        raise ValueError(f"{seconds} s is not a positive duration")
    return count / seconds


# -- what is signed ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """A CSR and the identity it is signed for, and the openssl extensions file that gives the same leaf."""

    identity: Identity
    csr: bytes
    csr_path: Path
    extfile: Path


def identity(index: int) -> Identity:
    return Identity(TRUST_DOMAIN, NAMESPACE, f"bench-{index}")


def extensions(uri: str) -> str:
    """An `openssl x509 -extfile` section for meshd's workload leaf profile (CertificateAuthority._sign)."""
    return (
        "basicConstraints = critical, CA:FALSE\n"
        "keyUsage = critical, digitalSignature, keyEncipherment\n"
        "extendedKeyUsage = serverAuth, clientAuth\n"
        f"subjectAltName = critical, URI:{uri}\n"
        "subjectKeyIdentifier = hash\n"
        "authorityKeyIdentifier = keyid\n"
    )


def validity_days(ttl: timedelta) -> int:
    """`openssl x509 -days` for a TTL: whole days only."""
    days, rest = divmod(ttl, timedelta(days=1))
    if rest or days < 1:
        raise ValueError(f"openssl x509 -days takes whole days; {ttl} is not")
    return int(days)


def openssl_command(
    request: Request, ca_dir: Path, serial: str, ttl: timedelta = WORKLOAD_TTL, openssl: str = "openssl"
) -> list[str]:
    """The baseline for one certificate: the CSR signed by the CA's key, the leaf PEM on stdout."""
    return [
        openssl,
        "x509",
        "-req",
        "-in",
        str(request.csr_path),
        "-CA",
        str(ca_dir / CA_CERT_FILE),
        "-CAkey",
        str(ca_dir / CA_KEY_FILE),
        "-set_serial",
        f"0x{serial}",
        "-days",
        str(validity_days(ttl)),
        "-sha256",
        "-extfile",
        str(request.extfile),
    ]


def make_requests(directory: Path, count: int) -> list[Request]:
    """`count` CSRs, each for its own identity and key (made here, before any timing)."""
    directory.mkdir(parents=True, exist_ok=True)
    requests = []
    for index in range(count):
        who = identity(index)
        csr = build_csr(generate_key(), who)
        csr_path, extfile = directory / f"csr-{index}.pem", directory / f"ext-{index}.cnf"
        csr_path.write_bytes(csr)
        extfile.write_text(extensions(who.uri))
        requests.append(Request(who, csr, csr_path, extfile))
    return requests


def cycle(requests: Sequence[Request], count: int) -> list[Request]:
    """`count` requests taken round the fixed set in order."""
    if not requests:
        raise ValueError("no requests")
    return [requests[index % len(requests)] for index in range(count)]


# -- the two sides ------------------------------------------------------------------------------------------


def sign_in_process(ca: CertificateAuthority, requests: Sequence[Request]) -> Rate:
    wall, cpu = time.perf_counter(), time.process_time()
    for request in requests:
        ca.sign_csr(request.csr, [request.identity], WORKLOAD_TTL)
    return Rate(len(requests), time.perf_counter() - wall, time.process_time() - cpu)


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def sign_with_openssl(ca_dir: Path, requests: Sequence[Request], openssl: str) -> Rate:
    """One openssl process per certificate; CPU time is openssl's plus this process's starting them."""
    commands = [openssl_command(r, ca_dir, secrets.token_hex(19), openssl=openssl) for r in requests]
    wall, own, children = time.perf_counter(), time.process_time(), children_cpu()
    for command in commands:
        done = subprocess.run(command, capture_output=True, check=False)
        if done.returncode != 0 or not done.stdout.startswith(b"-----BEGIN CERTIFICATE-----"):
            raise BenchError(
                f"{' '.join(command)} failed ({done.returncode}): {done.stderr.decode().strip()}"
            )
    elapsed = time.perf_counter() - wall
    cpu = (time.process_time() - own) + (children_cpu() - children)
    return Rate(len(requests), elapsed, cpu)


def process_seconds(argv: Sequence[str], count: int) -> float:
    """Mean wall time of `argv` run as a process `count` times, one after the other."""
    wall = time.perf_counter()
    for _ in range(count):
        subprocess.run(argv, capture_output=True, check=False)
    return (time.perf_counter() - wall) / count


def openssl_version(openssl: str) -> str:
    done = subprocess.run([openssl, "version"], capture_output=True, text=True, check=False)
    return done.stdout.strip() or "unknown"


def openssl_floor(openssl: str, ca_dir: Path, count: int) -> tuple[float, float]:
    """What a certificate costs openssl before it signs anything: (`openssl version`, the x509 tool reading
    the CA certificate and writing nothing), seconds a process each."""
    reading = [openssl, "x509", "-in", str(ca_dir / CA_CERT_FILE), "-noout"]
    return process_seconds([openssl, "version"], count), process_seconds(reading, count)


# -- through meshd ------------------------------------------------------------------------------------------


def meshd_argv() -> list[str]:
    beside = Path(sys.executable).parent / "meshd"
    return [str(beside)] if beside.exists() else [sys.executable, "-m", "mesh_runtime.meshd"]


def ready_port(log: str) -> int | None:
    found = READY.search(log)
    return int(found["port"]) if found else None


def http_request(path: str, body: bytes, token: str) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        f"Authorization: Bearer {token}\r\n\r\n"
    ).encode() + body


def http_status(response: bytes) -> int:
    head = response.split(b"\r\n", 1)[0].split()
    if len(head) < 2 or not head[1].isdigit():
        raise BenchError(f"not an HTTP response: {response[:80]!r}")
    return int(head[1])


@dataclass
class RunningMeshd:
    process: subprocess.Popen[bytes]
    port: int
    context: ssl.SSLContext
    token: str

    def issue(self, request: Request) -> None:
        body = json.dumps(
            {
                "csr": request.csr.decode("ascii"),
                "identity": request.identity.uri,
                "ttl_seconds": int(WORKLOAD_TTL.total_seconds()),
            }
        ).encode()
        with (
            socket.create_connection(("127.0.0.1", self.port), timeout=REQUEST_TIMEOUT) as raw,
            self.context.wrap_socket(raw, server_hostname="localhost") as tls,
        ):
            tls.sendall(http_request("/v1/certificates", body, self.token))
            response = b""
            while chunk := tls.recv(65536):
                response += chunk
        status = http_status(response)
        if status != 200:
            raise BenchError(f"meshd answered {status} to a CSR: {response[-300:].decode(errors='replace')}")


@contextlib.contextmanager
def running_meshd(directory: Path) -> Iterator[RunningMeshd]:
    """`meshd serve` on a data directory of its own, pinned to MEASURED_CPU, stopped on leaving."""
    data_dir, log_path = directory / "meshd", directory / "meshd.log"
    argv = [*meshd_argv(), "serve", "--data-dir", str(data_dir), "--listen-address", "127.0.0.1"]
    argv += ["--discovery-port", "0", "--api-port", "0", "--monitoring-port", "0"]
    with log_path.open("wb") as log:
        process = subprocess.Popen(pinned(MEASURED_CPU, argv), stdout=subprocess.DEVNULL, stderr=log)
    try:
        port = None
        deadline = time.monotonic() + START_TIMEOUT
        while port is None:
            port = ready_port(log_path.read_text(errors="replace"))
            if process.poll() is not None:
                raise BenchError(f"meshd exited with {process.returncode}: see {log_path}")
            if time.monotonic() > deadline:
                raise BenchError(f"meshd was not ready within {START_TIMEOUT:g} s: see {log_path}")
            time.sleep(0.05)
        created = subprocess.run(
            [*meshd_argv(), "token", "create", "--data-dir", str(data_dir), "--identity", f"{NAMESPACE}/*"],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        if created.returncode != 0:
            raise BenchError(f"meshd token create failed: {created.stderr.strip()}")
        context = ssl.create_default_context(cafile=str(data_dir / "root-cert.pem"))
        yield RunningMeshd(process, port, context, created.stdout.strip())
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def round_trip(meshd: RunningMeshd, requests: Sequence[Request]) -> Rate:
    """Rate by the wall clock of the client; CPU is meshd's (TLS handshake, HTTP, JSON, signing, logging).

    taskset execs meshd in its own process, so the pid started is meshd's.
    """
    wall, cpu = time.perf_counter(), cpu_seconds(meshd.process.pid)
    for request in requests:
        meshd.issue(request)
    return Rate(len(requests), time.perf_counter() - wall, cpu_seconds(meshd.process.pid) - cpu)


# -- the benchmark ------------------------------------------------------------------------------------------


def pin_self(cpu: int) -> None:
    if (os.cpu_count() or 1) >= 2:
        os.sched_setaffinity(0, {cpu})


def figures(
    name: str, runs: Sequence[Rate], baseline_name: str, baseline: Sequence[Rate]
) -> tuple[Figure, Figure]:
    """The wall-clock rate and the CPU-time rate of one side beside the baseline, ratio reported."""
    wall = Figure(
        name=name,
        unit="certs/s",
        runs=tuple(r.per_second for r in runs),
        baseline_name=baseline_name,
        baseline_runs=tuple(r.per_second for r in baseline),
        target="ratio reported",
    )
    cpu = Figure(
        name=f"{name}, per CPU second",
        unit="certs/CPU-s",
        runs=tuple(r.per_cpu_second for r in runs),
        baseline_name=baseline_name,
        baseline_runs=tuple(r.per_cpu_second for r in baseline),
        target="ratio reported",
    )
    return wall, cpu


def summary(figure: Figure) -> str:
    line = f"{figure.name}: median {figure.value:.0f} {figure.unit}"
    if figure.baseline is not None and figure.ratio is not None:
        line += f"; {figure.baseline_name}: {figure.baseline:.0f}; ratio {figure.ratio:.1f}"
    return line


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.ca", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="runs of each side (default 5)")
    parser.add_argument("--certs", type=int, default=2000, help="certificates per in-process run")
    parser.add_argument("--openssl-certs", type=int, default=300, help="openssl processes per run")
    parser.add_argument("--csrs", type=int, default=50, help="distinct pre-made CSRs, used in turn")
    parser.add_argument(
        "--round-trip",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also through a running meshd (default: on)",
    )
    parser.add_argument("--round-trip-certs", type=int, default=300, help="requests per round-trip run")
    args = parser.parse_args(argv)
    for option in ("runs", "certs", "openssl_certs", "csrs", "round_trip_certs"):
        if getattr(args, option) < 1:
            parser.error(f"--{option.replace('_', '-')} must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        need("openssl")
        return run(args)
    except BenchError as error:
        print(f"bench-ca: {error}", file=sys.stderr)
        return 1


def run(args: argparse.Namespace) -> int:
    openssl = shutil.which("openssl") or "openssl"
    command = "python -m bench.ca " + " ".join(sys.argv[1:])
    result = Result(bench="ca", command=command.strip())
    result.mark_load("start")
    with tempfile.TemporaryDirectory(prefix="bench-ca-") as temp:
        work = Path(temp)
        ca_dir = work / "ca"
        ca = CertificateAuthority.load_or_create(ca_dir)
        requests = make_requests(work / "csrs", args.csrs)
        pin_self(MEASURED_CPU)
        # Warm up both sides (imports, caches, page cache for openssl's binary and files).
        sign_in_process(ca, cycle(requests, min(20, args.certs)))
        sign_with_openssl(ca_dir, cycle(requests, 3), openssl)
        python_runs: list[Rate] = []
        openssl_runs: list[Rate] = []
        for number in range(1, args.runs + 1):
            python_runs.append(sign_in_process(ca, cycle(requests, args.certs)))
            openssl_runs.append(sign_with_openssl(ca_dir, cycle(requests, args.openssl_certs), openssl))
            print(
                f"run {number}: sign_csr {python_runs[-1].per_second:.0f} certs/s "
                f"({python_runs[-1].per_cpu_second:.0f}/CPU-s), openssl x509 -req "
                f"{openssl_runs[-1].per_second:.0f} certs/s ({openssl_runs[-1].per_cpu_second:.0f}/CPU-s)",
                flush=True,
            )
        startup, reading = openssl_floor(openssl, ca_dir, args.openssl_certs)
        baseline = "openssl x509 -req, one process per certificate"
        for figure in figures(
            "CertificateAuthority.sign_csr in process", python_runs, baseline, openssl_runs
        ):
            result.add(figure)
        if args.round_trip:
            pin_self(LOAD_CPU)
            with running_meshd(work) as meshd:
                round_trip(meshd, cycle(requests, min(10, args.round_trip_certs)))
                trips = []
                for number in range(1, args.runs + 1):
                    trips.append(round_trip(meshd, cycle(requests, args.round_trip_certs)))
                    print(
                        f"round trip {number}: {trips[-1].per_second:.0f} certs/s "
                        f"({trips[-1].per_cpu_second:.0f} per meshd CPU-s)",
                        flush=True,
                    )
            for figure in figures(
                "POST /v1/certificates to meshd, TLS, a connection each", trips, baseline, openssl_runs
            ):
                result.add(figure)
    result.mark_load("end")
    openssl_rates = [r.per_second for r in openssl_runs]
    result.notes += [
        f"{args.runs} runs, alternating: {args.certs} certificates signed in process by "
        "CertificateAuthority.sign_csr (CSR parse and signature check, 24 h TTL, meshd's self-signed "
        f"ECDSA P-256 root), then {args.openssl_certs} by `openssl x509 -req` run once per certificate "
        "(same CSRs, CA and leaf extensions; random serial; -days 1); "
        f"{args.csrs} distinct pre-made ECDSA P-256 CSRs used in turn; this process pinned to CPU "
        f"{MEASURED_CPU} (openssl inherits it).",
        "CPU rates: in process, this process's CPU time; openssl, its processes' CPU (RUSAGE_CHILDREN) plus "
        "this process's CPU starting them.",
        f"{openssl_version(openssl)}, one process a certificate: "
        f"{1000 / median(openssl_rates):.1f} ms a certificate for `openssl x509 -req`, against "
        f"{startup * 1000:.1f} ms for `openssl version` and {reading * 1000:.1f} ms for `openssl x509 -in "
        f"ca-cert.pem -noout` (reading one certificate, signing nothing; {args.openssl_certs} runs each): "
        "the baseline is mostly the x509 tool setting itself up, not the signature. It is the baseline the "
        "issue names, not openssl's signing speed in a long-lived process.",
    ]
    if args.round_trip:
        result.notes.append(
            f"Round trip: meshd serve (own temp data dir, kernel-picked ports) pinned to CPU {MEASURED_CPU}, "
            f"one client on CPU {LOAD_CPU}, {args.round_trip_certs} sequential POSTs a run, a new TLS "
            "connection each; its CPU rate counts meshd's CPU only."
        )
    path = result.write()
    for figure in result.figures:
        print(summary(figure))
    print(f"load average {result.load}; written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
