"""A redis-server speaking only TLS, with a password and an ACL user, as managed Redis offerings run it.

`make_certificates(directory)` writes a private CA and a server certificate it signed (`cryptography`; the
server's names: DNS localhost and IP 127.0.0.1, since redis-py checks the host name against the certificate
by default). `TlsRedis(directory, certificates)` is an EmbeddedRedis on a TLS-only port that requires the
default user's `PASSWORD`, and knows the ACL user `ACL_USER` with `ACL_PASSWORD`; `.url(...)` builds the
`rediss://` URLs an operator would set.
"""
from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

import redis
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from shopapp.embedded_redis import EmbeddedRedis, find_binary, free_port

PASSWORD = "default-user-password-123"
ACL_USER, ACL_PASSWORD = "shopapp", "acl-user-password-456"


@dataclass(frozen=True)
class Certificates:
    ca: Path           # the CA bundle a client trusts (ssl_ca_certs)
    server_cert: Path
    server_key: Path


def make_certificates(directory: Path, common_name: str = "shopapp test CA") -> Certificates:
    """A CA and a server certificate for localhost / 127.0.0.1 it signed, valid for a day, as PEM files."""
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    ca = (_builder(ca_name, ca_name, ca_key.public_key(), now)
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    server = (_builder(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]), ca_name,
                       server_key.public_key(), now)
              .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                          x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                             critical=False)
              .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
              .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
              .sign(ca_key, hashes.SHA256()))
    paths = Certificates(directory / "ca.pem", directory / "server.pem", directory / "server.key")
    paths.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths.server_cert.write_bytes(server.public_bytes(serialization.Encoding.PEM))
    paths.server_key.write_bytes(server_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                          serialization.NoEncryption()))
    paths.server_key.chmod(0o600)
    return paths


def _builder(subject: x509.Name, issuer: x509.Name, public_key, now: datetime.datetime) -> x509.CertificateBuilder:
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public_key)
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1)))


class TlsRedis(EmbeddedRedis):
    """redis-server with TLS only (no plain port), a password for the default user and one ACL user."""

    def __init__(self, directory: Path, certificates: Certificates):
        self.certificates = certificates
        port = free_port()
        super().__init__(directory, port=port, binary=find_binary(prefer_system=True), persist=False, extra_args=[
            "--port", "0", "--tls-port", str(port), "--tls-cert-file", str(certificates.server_cert),
            "--tls-key-file", str(certificates.server_key), "--tls-ca-cert-file", str(certificates.ca),
            "--tls-auth-clients", "no", "--requirepass", PASSWORD,
            # Each ACL rule is its own argument.
            "--user", ACL_USER, "on", f">{ACL_PASSWORD}", "~*", "&*", "+@all"])

    def tls_url(self, user: str = "", password: str = PASSWORD, verify: bool = True, host: str = "127.0.0.1") -> str:
        """`rediss://[user]:password@host:port/0` checking the certificate against our CA
        (`?ssl_ca_certs=`), or not checking it at all (`?ssl_cert_reqs=none`)."""
        query = f"ssl_ca_certs={self.certificates.ca}" if verify else "ssl_cert_reqs=none"
        return f"rediss://{user}:{password}@{host}:{self.port}/0?{query}"

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.tls_url(), socket_connect_timeout=0.5)
