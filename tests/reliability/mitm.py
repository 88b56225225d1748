"""A small HTTP proxy on loopback for the proxy / CA-bundle tests: it records what passes through.

Plain ``GET http://host/...`` requests are forwarded as they are. ``CONNECT host:port`` is answered, then the TLS
inside is terminated with a certificate for that host signed by a test CA (like a company's TLS-inspecting proxy)
and the bytes are relayed to an upstream chosen per host (plain or TLS). A client that does not trust the test CA
fails the handshake; that is recorded too.
"""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
import threading
from pathlib import Path


def make_ca_and_cert(directory: Path, hosts: list[str]) -> tuple[Path, Path, Path]:
    """(ca.pem, server-cert.pem, server-key.pem): a test CA and a server certificate for ``hosts``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Reliability Test Corporate CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
          .not_valid_after(now + datetime.timedelta(days=2))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                       crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    sans: list[x509.GeneralName] = []
    for h in hosts:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(h)))
        except ValueError:
            sans.append(x509.DNSName(h))
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    directory.mkdir(parents=True, exist_ok=True)
    ca_path, cert_path, key_path = directory / "ca.pem", directory / "server.pem", directory / "server-key.pem"
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return ca_path, cert_path, key_path


class Proxy:
    """``routes``: "host:port" -> (upstream host, port, upstream_tls_ca or None). Unrouted targets get a 502."""

    def __init__(self, routes: dict[str, tuple[str, int, str | None]], cert: Path, key: Path) -> None:
        self.routes = routes
        self.log: list[tuple[str, str]] = []   # ("CONNECT", "host:443"), ("GET", "http://..."), ("TLS-FAIL", host)
        self.bytes_through = 0
        self._ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._ctx.load_cert_chain(str(cert), str(key))
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self.port = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._serve, name="rel-proxy", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        try:
            self._sock.close()
        except OSError:
            pass
        self._thread.join(5)

    def _record(self, kind: str, what: str) -> None:
        with self._lock:
            self.log.append((kind, what))

    def _serve(self) -> None:
        self._sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except (TimeoutError, OSError):
                continue
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        try:
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                head += chunk
            head, _, rest = head.partition(b"\r\n\r\n")
            first = head.split(b"\r\n", 1)[0].decode("latin-1")
            method, target, _version = first.split(" ", 2)
            if method == "CONNECT":
                self._record("CONNECT", target)
                route = self.routes.get(target)
                if route is None:
                    conn.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
                    return
                conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                try:
                    client = self._ctx.wrap_socket(conn, server_side=True)
                except (ssl.SSLError, OSError):
                    self._record("TLS-FAIL", target)
                    return
                self._relay(client, route, rest)
            else:
                self._record(method, target)
                hostport = target.split("://", 1)[1].split("/", 1)[0]
                if ":" not in hostport:
                    hostport += ":80"
                route = self.routes.get(hostport)
                if route is None:
                    conn.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
                    return
                path = "/" + target.split("://", 1)[1].split("/", 1)[1] if "/" in target.split("://", 1)[1] else "/"
                lines = head.split(b"\r\n")
                lines[0] = f"{method} {path} {_version}".encode("latin-1")
                self._relay(conn, route, b"\r\n".join(lines) + b"\r\n\r\n" + rest)
        except Exception:  # noqa: BLE001 - a proxy connection ends; the tests judge the result
            pass
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def _relay(self, client: socket.socket, route: tuple[str, int, str | None], first: bytes) -> None:
        host, port, upstream_ca = route
        up: socket.socket = socket.create_connection((host, port), timeout=30)
        if upstream_ca:
            ctx = ssl.create_default_context(cafile=upstream_ca)
            up = ctx.wrap_socket(up, server_hostname=host)
        if first:
            up.sendall(first)
        done = threading.Event()

        def pump(src: socket.socket, dst: socket.socket) -> None:
            try:
                while True:
                    data = src.recv(65536)
                    if not data:
                        break
                    with self._lock:
                        self.bytes_through += len(data)
                    dst.sendall(data)
            except OSError:
                pass
            finally:
                done.set()

        threading.Thread(target=pump, args=(up, client), daemon=True).start()
        pump(client, up)
        done.wait(5)
        for s in (up, client):
            try:
                s.close()
            except OSError:
                pass
