"""A private Dovecot for the IMAP tests: its own config, mail and runtime folders under one
temporary folder, listening on free loopback ports, stopped and removed afterwards.

Nothing outside that folder is touched, so a system Dovecot (running or not) is unaffected.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from imapclient import IMAPClient
from ports import free_port

# /usr/sbin is often missing from a normal user's PATH.
BINARY = shutil.which("dovecot") or shutil.which("dovecot", path="/usr/sbin:/usr/local/sbin")
USER, PASSWORD, TOKEN = "support@support.example", "imap-secret", "ya29.test-token"

_CONFIG = """\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
instance_name = {instance}
protocols = imap
verbose_proctitle = yes
auth_failure_delay = 0
listen = 127.0.0.1
ssl = {ssl}
{ssl_files}
disable_plaintext_auth = no
auth_mechanisms = plain login xoauth2
first_valid_uid = 1
first_valid_gid = 1
default_internal_user = {internal_user}
default_internal_group = {internal_group}
default_login_user = {login_user}
# sdbox rather than maildir: maildir's one-second directory times can hide a message delivered
# in the second IDLE starts until Dovecot's 30-second recheck, which would make tests flaky.
mail_location = sdbox:~/mail
mail_fsync = never
mail_uid = {uid}
mail_gid = {gid}
{capability}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
passdb {{
  driver = static
  args = password={token}
  mechanisms = xoauth2
}}
userdb {{
  driver = static
  args = home={root}/home/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
service stats {{
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
"""


def _users() -> tuple[str, str, str, pwd.struct_passwd]:
    """(internal user, its group, login user, mail owner).

    As root, the package's own users and `nobody` (Dovecot refuses mail access as root);
    as anyone else, that user for everything.
    """
    if os.geteuid() == 0:
        return "dovecot", "dovecot", "dovenull", pwd.getpwnam("nobody")
    me = pwd.getpwuid(os.geteuid())
    return me.pw_name, grp.getgrgid(me.pw_gid).gr_name, me.pw_name, me


class Dovecot:
    """One private server; `capabilities` replaces what it advertises (e.g. to hide MOVE)."""

    def __init__(self, capabilities: str | None = None, tls: bool = False):
        self.root = Path(tempfile.mkdtemp(prefix="gateway-dovecot-"))
        self.root.chmod(0o755)  # the login and internal users must reach the sockets
        self.port, self.tls_port = free_port(), free_port()
        self.capabilities, self.tls = capabilities, tls
        self.instance = f"gateway-test-{self.port}"
        self.ca_file: Path | None = None
        self._process: subprocess.Popen | None = None
        self._write_config()

    def _write_config(self) -> None:
        internal, group, login, owner = _users()
        ssl_files = ""
        if self.tls:
            self.ca_file = self_signed(self.root)
            ssl_files = f"ssl_cert = <{self.root}/cert.pem\nssl_key = <{self.root}/key.pem"
        capability = f"imap_capability = {self.capabilities}" if self.capabilities else ""
        text = _CONFIG.format(
            root=self.root,
            instance=self.instance,
            port=self.port,
            tls_port=self.tls_port,
            ssl="yes" if self.tls else "no",
            ssl_files=ssl_files,
            internal_user=internal,
            internal_group=group,
            login_user=login,
            uid=owner.pw_uid,
            gid=owner.pw_gid,
            capability=capability,
            token=TOKEN,
        )
        (self.root / "dovecot.conf").write_text(text)
        (self.root / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
        for sub in ("run", "state", "home"):
            (self.root / sub).mkdir(exist_ok=True)
        os.chown(self.root / "home", owner.pw_uid, owner.pw_gid)

    def start(self) -> None:
        conf = str(self.root / "dovecot.conf")
        self._process = subprocess.Popen(
            [BINARY or "dovecot", "-F", "-c", conf],
            stdout=subprocess.DEVNULL,
            stderr=open(self.root / "stderr.log", "ab"),  # noqa: SIM115 - lives with the process
            start_new_session=True,  # its own process group, so stop() reaches every child
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"dovecot exited: {self.log()}")
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError(f"dovecot did not start: {self.log()}")

    def stop(self) -> None:
        if self._process is None:
            return
        # The whole group: signalled by the master alone, a session in IDLE lingers ~10 s.
        os.killpg(self._process.pid, signal.SIGTERM)
        try:
            self._process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self._process.pid, signal.SIGKILL)
            self._process.wait()
        self._process = None

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def log(self) -> str:
        parts = [self.root / "dovecot.log", self.root / "stderr.log"]
        return "\n".join(p.read_text(errors="replace") for p in parts if p.exists())

    def idling(self) -> int:
        """How many of this server's sessions sit in IDLE (from Dovecot's process titles)."""
        marker = f"{self.instance}/imap ["
        count = 0
        for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
            try:
                title = cmdline.read_bytes().decode(errors="replace")
            except OSError:
                continue
            count += marker in title and title.rstrip("\0 ").endswith(" IDLE]")
        return count

    def client(self) -> IMAPClient:
        """A logged-in client for the test's own APPENDs and checks."""
        client = IMAPClient("127.0.0.1", self.port, ssl=False, timeout=30)
        client.login(USER, PASSWORD)
        return client


def self_signed(root: Path) -> Path:
    """A certificate for 127.0.0.1, so TLS and STARTTLS are tested with verification on."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    (root / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (root / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    (root / "key.pem").chmod(0o600)
    return root / "cert.pem"


def trusting(ca_file: Path) -> ssl.SSLContext:
    """A verifying client context that trusts the private server's certificate."""
    return ssl.create_default_context(cafile=str(ca_file))
