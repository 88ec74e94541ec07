"""bench/ca.py's own logic: the openssl baseline's command line and leaf profile, the rates, the CSR set, the
meshd answers it reads. Nothing here is timed."""

from __future__ import annotations

import argparse
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from bench import ca as bench_ca
from bench.common import BenchError
from mesh_runtime.ca import CertificateAuthority


@pytest.fixture
def authority(tmp_path: Path) -> CertificateAuthority:
    return CertificateAuthority.load_or_create(tmp_path / "ca")


def test_rates_are_certificates_over_seconds() -> None:
    rate = bench_ca.Rate(certificates=300, wall_seconds=1.5, cpu_seconds=0.6)

    assert rate.per_second == pytest.approx(200.0)
    assert rate.per_cpu_second == pytest.approx(500.0)
    assert bench_ca.per_second(0, 2.0) == 0.0


@pytest.mark.parametrize(("count", "seconds"), [(10, 0.0), (10, -1.0), (-1, 1.0)])
def test_a_rate_over_no_time_or_a_negative_count_is_refused(count: int, seconds: float) -> None:
    with pytest.raises(ValueError):
        bench_ca.per_second(count, seconds)


def test_figures_give_medians_and_the_ratio_to_openssl() -> None:
    mine = [bench_ca.Rate(100, 0.1, 0.1), bench_ca.Rate(100, 0.05, 0.04), bench_ca.Rate(100, 0.2, 0.1)]
    openssl = [bench_ca.Rate(10, 0.5, 0.2), bench_ca.Rate(10, 0.25, 0.25), bench_ca.Rate(10, 1.0, 0.5)]

    wall, cpu = bench_ca.figures("sign_csr", mine, "openssl", openssl)

    assert wall.unit == "certs/s" and cpu.unit == "certs/CPU-s"
    assert wall.value == pytest.approx(1000.0)
    assert wall.baseline == pytest.approx(20.0)
    assert wall.ratio == pytest.approx(50.0)
    assert cpu.value == pytest.approx(1000.0) and cpu.baseline == pytest.approx(40.0)
    assert wall.target == "ratio reported" and wall.met is None


def test_validity_is_given_to_openssl_in_whole_days() -> None:
    assert bench_ca.validity_days(bench_ca.WORKLOAD_TTL) == 1
    assert bench_ca.validity_days(timedelta(days=90)) == 90
    for ttl in (timedelta(hours=36), timedelta(hours=1), timedelta(0)):
        with pytest.raises(ValueError, match="whole days"):
            bench_ca.validity_days(ttl)


def test_the_openssl_command_signs_the_csr_with_the_ca_key_in_whole_days(tmp_path: Path) -> None:
    [request] = bench_ca.make_requests(tmp_path / "csrs", 1)

    command = bench_ca.openssl_command(request, tmp_path / "ca", "ff")

    assert command == [
        "openssl",
        "x509",
        "-req",
        "-in",
        str(request.csr_path),
        "-CA",
        str(tmp_path / "ca" / "ca-cert.pem"),
        "-CAkey",
        str(tmp_path / "ca" / "ca-key.pem"),
        "-set_serial",
        "0xff",
        "-days",
        "1",
        "-sha256",
        "-extfile",
        str(request.extfile),
    ]


def test_the_csrs_are_distinct_and_used_in_turn(tmp_path: Path) -> None:
    requests = bench_ca.make_requests(tmp_path / "csrs", 3)

    assert len({r.csr for r in requests}) == 3
    assert [r.identity.uri for r in requests] == [
        f"spiffe://cluster.local/ns/default/sa/bench-{n}" for n in range(3)
    ]
    assert all(r.csr_path.read_bytes() == r.csr for r in requests)
    assert [r.identity for r in bench_ca.cycle(requests, 7)] == [requests[n % 3].identity for n in range(7)]
    with pytest.raises(ValueError):
        bench_ca.cycle([], 1)


def extension_profile(certificate: x509.Certificate) -> dict[str, object]:
    extensions = certificate.extensions
    return {
        "critical": sorted((e.oid.dotted_string, e.critical) for e in extensions),
        "basic": extensions.get_extension_for_class(x509.BasicConstraints).value,
        "usage": extensions.get_extension_for_class(x509.KeyUsage).value,
        "extended": list(extensions.get_extension_for_class(x509.ExtendedKeyUsage).value),
        "san": extensions.get_extension_for_class(x509.SubjectAlternativeName).value,
        "ski": extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value,
        "aki": extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier,
        "issuer": certificate.issuer,
        "subject": certificate.subject,
        "lifetime": certificate.not_valid_after_utc - certificate.not_valid_before_utc,
    }


def test_openssl_gives_the_leaf_meshd_gives(tmp_path: Path, authority: CertificateAuthority) -> None:
    [request] = bench_ca.make_requests(tmp_path / "csrs", 1)
    command = bench_ca.openssl_command(request, tmp_path / "ca", "1234abcd")

    done = subprocess.run(command, capture_output=True, check=True)
    by_openssl = x509.load_pem_x509_certificate(done.stdout)
    by_meshd = authority.sign_csr(request.csr, [request.identity], bench_ca.WORKLOAD_TTL).certificates()[0]

    openssl_profile, meshd_profile = extension_profile(by_openssl), extension_profile(by_meshd)
    # meshd backdates its leaves by two minutes (clock skew); the rest is the same profile.
    assert meshd_profile.pop("lifetime") == bench_ca.WORKLOAD_TTL + timedelta(minutes=2)
    assert openssl_profile.pop("lifetime") == bench_ca.WORKLOAD_TTL
    assert openssl_profile == meshd_profile
    assert openssl_profile["extended"] == [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
    assert by_openssl.serial_number == 0x1234ABCD


def test_sign_with_openssl_counts_every_certificate(tmp_path: Path, authority: CertificateAuthority) -> None:
    requests = bench_ca.make_requests(tmp_path / "csrs", 2)

    rate = bench_ca.sign_with_openssl(tmp_path / "ca", bench_ca.cycle(requests, 3), "openssl")

    assert rate.certificates == 3
    assert rate.wall_seconds > 0 and rate.cpu_seconds > 0


def test_a_csr_openssl_cannot_sign_stops_the_benchmark_saying_why(
    tmp_path: Path, authority: CertificateAuthority
) -> None:
    [request] = bench_ca.make_requests(tmp_path / "csrs", 1)
    request.csr_path.write_text("not a CSR\n")

    with pytest.raises(BenchError, match=r"openssl x509 -req .* failed \(1\)"):
        bench_ca.sign_with_openssl(tmp_path / "ca", [request], "openssl")


def test_sign_in_process_signs_what_meshd_signs(tmp_path: Path, authority: CertificateAuthority) -> None:
    requests = bench_ca.make_requests(tmp_path / "csrs", 2)

    rate = bench_ca.sign_in_process(authority, bench_ca.cycle(requests, 5))

    assert rate.certificates == 5
    # sign_csr counted them as meshd's /metrics does.
    assert authority.metrics.success_cert_issuance_count.value() == 5


def test_meshd_answers_are_read() -> None:
    log = "INFO meshd ready: discovery 127.0.0.1:40123, config API 127.0.0.1:40124, monitoring 127.0.0.1:1\n"
    assert bench_ca.ready_port(log) == 40123
    assert bench_ca.ready_port("INFO starting\n") is None
    assert bench_ca.http_status(b"HTTP/1.1 401 Unauthorized\r\n\r\n{}") == 401
    with pytest.raises(BenchError, match="not an HTTP response"):
        bench_ca.http_status(b"\x15\x03\x03")
    head = bench_ca.http_request("/v1/certificates", b"{}", "tok").decode()
    assert head.startswith("POST /v1/certificates HTTP/1.1\r\n")
    assert "Authorization: Bearer tok\r\n" in head and "Content-Length: 2\r\n" in head
    assert head.endswith("\r\n\r\n{}")


def test_counts_below_one_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        bench_ca.parse_args(["--runs", "0"])
    assert "--runs must be at least 1" in capsys.readouterr().err
    args = bench_ca.parse_args([])
    assert isinstance(args, argparse.Namespace) and args.round_trip is True
    assert bench_ca.parse_args(["--no-round-trip"]).round_trip is False


def test_the_openssl_floor_is_measured_on_the_ca_files(
    tmp_path: Path, authority: CertificateAuthority
) -> None:
    startup, reading = bench_ca.openssl_floor("openssl", tmp_path / "ca", 2)

    assert startup > 0 and reading > 0
    assert bench_ca.openssl_version("openssl").startswith("OpenSSL ")
