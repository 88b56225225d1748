"""S3 for the STS upload path: moto's ThreadedMotoServer on loopback, over HTTPS with a self-signed certificate
for 127.0.0.1 / localhost made at start (Tripo's SDK always builds 'https://' + s3_host)."""

from __future__ import annotations

import datetime
import ipaddress
import secrets
import ssl
import string
import threading
from pathlib import Path

BUCKET = "tripo-data"
REGION = "us-west-2"


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """Self-signed CA-capable certificate + key (PEM) valid for 127.0.0.1, ::1 and localhost."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Tripo emulator local S3"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "tripo_emulator")])
    now = datetime.datetime.now(datetime.UTC)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                x509.IPAddress(ipaddress.ip_address("::1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=True,
                                         data_encipherment=False, key_agreement=True, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(ski, critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
            .sign(key, hashes.SHA256()))
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / "s3-ca.pem", directory / "s3-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_path.chmod(0o600)
    return cert_path, key_path


class S3Server:
    """moto S3 over TLS on 127.0.0.1; `client` is a boto3 client the emulator itself uses."""

    def __init__(self, directory: Path, host: str = "127.0.0.1") -> None:
        self.directory = directory
        self.host = host
        self.port = 0
        self.ca_file: Path | None = None
        self._server = None
        self._thread: threading.Thread | None = None
        self._client = None
        self._lock = threading.Lock()

    @property
    def endpoint(self) -> str:
        return f"https://{self.host}:{self.port}"

    @property
    def host_port(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self) -> None:
        from moto.moto_server.threaded_moto_server import ThreadedMotoServer
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
        from werkzeug.serving import make_server

        cert, key = make_certificate(self.directory)
        self.ca_file = cert
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(cert), str(key))

        class QuietHandler(MotoRequestHandler):
            def log(self, *args, **kwargs) -> None:  # no per-request lines on stderr
                pass

        class TlsMotoServer(ThreadedMotoServer):
            """ThreadedMotoServer whose werkzeug server speaks TLS."""

            def _server_entry(self) -> None:
                app = DomainDispatcherApplication(create_backend_app)
                self._server = make_server(self._ip_address, self._port, app, True, request_handler=QuietHandler,
                                           ssl_context=ctx)
                self._server_ready_event.set()
                self._server.serve_forever()

        self._server = TlsMotoServer(self.host, 0, verbose=False)
        self._server.start()
        self.port = self._server.get_host_and_port()[1]
        self.ensure_bucket()

    def stop(self) -> None:
        if self._server is not None:
            srv = self._server._server
            self._server.stop()
            if srv is not None:
                srv.server_close()
            self._server = None

    @property
    def client(self):
        with self._lock:
            if self._client is None:
                import boto3
                from botocore.config import Config

                self._client = boto3.client(
                    "s3", endpoint_url=self.endpoint, region_name=REGION, verify=str(self.ca_file),
                    aws_access_key_id="ASIAEMULATOR0000", aws_secret_access_key="emulator",
                    config=Config(retries={"max_attempts": 2}, s3={"addressing_style": "path"}))
            return self._client

    def ensure_bucket(self) -> None:
        """Create the bucket unless it exists (moto state can be reset by other in-process moto users)."""
        c = self.client
        try:
            c.head_bucket(Bucket=BUCKET)
        except Exception:
            c.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})

    def get(self, bucket: str, key: str) -> bytes | None:
        """Object bytes, or None when the bucket or key does not exist."""
        try:
            return self.client.get_object(Bucket=bucket, Key=key)["Body"].read()
        except Exception as e:
            code = getattr(e, "response", {}).get("Error", {}).get("Code", "")
            if code in ("NoSuchKey", "NoSuchBucket", "404", "403", "AccessDenied"):
                return None
            raise

    def put(self, bucket: str, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=bucket, Key=key, Body=data)


def sts_credentials() -> dict[str, str]:
    """Fake temporary credentials that look like AWS STS ones (moto does not check them)."""
    upper = string.ascii_uppercase + string.digits
    return {"sts_ak": "ASIA" + "".join(secrets.choice(upper) for _ in range(16)),
            "sts_sk": secrets.token_urlsafe(30)[:40],
            "session_token": "IQoJb3JpZ2luX2VjE" + secrets.token_urlsafe(300)}
