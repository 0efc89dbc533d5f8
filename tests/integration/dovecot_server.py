"""A private Dovecot for the IMAP poller's test: a temporary configuration, a self-signed
certificate made with openssl, IMAPS on a loopback port, one user with a static password.
As root, mail is stored as `nobody`; as another user, Dovecot runs as that user.
    srv = DovecotServer().start(); srv.append(raw); srv.uids(); srv.stop()
"""
import imaplib
import os
import pwd
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time

USER, PASSWORD = "bounces", "imap-test-password"


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class DovecotServer:
    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="nt-dovecot-")
        os.chmod(self.tmp, 0o755)
        self.port = _free_port()
        self.proc = None

    def start(self):
        t = self.tmp
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days",
                        "2", "-subj", "/CN=127.0.0.1", "-keyout", f"{t}/key.pem", "-out",
                        f"{t}/cert.pem"], check=True, capture_output=True)
        if os.geteuid() == 0:
            mail_user = pwd.getpwnam("nobody")
            internal = "default_internal_user = dovecot\ndefault_login_user = dovenull\n"
        else:
            mail_user = pwd.getpwuid(os.geteuid())
            me = mail_user.pw_name
            internal = (f"default_internal_user = {me}\ndefault_login_user = {me}\n"
                        f"default_internal_group = {pwd.getpwuid(os.geteuid()).pw_name}\n")
        os.makedirs(f"{t}/home", exist_ok=True)
        os.chown(f"{t}/home", mail_user.pw_uid, mail_user.pw_gid)
        with open(f"{t}/dovecot.conf", "w") as f:
            f.write(f"""base_dir = {t}/run
state_dir = {t}/state
log_path = {t}/dovecot.log
info_log_path = {t}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = required
ssl_cert = <{t}/cert.pem
ssl_key = <{t}/key.pem
{internal}auth_mechanisms = plain login
first_valid_uid = 1
mail_location = maildir:~/Maildir
namespace inbox {{
  inbox = yes
  mailbox Processed {{
    auto = create
  }}
}}
passdb {{
  driver = static
  args = password={PASSWORD}
}}
userdb {{
  driver = static
  args = uid={mail_user.pw_uid} gid={mail_user.pw_gid} home={t}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    port = 0
  }}
  inet_listener imaps {{
    port = {self.port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
}}
service stats {{
  unix_listener stats-reader {{
    mode = 0666
  }}
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
""")
        self.proc = subprocess.Popen(["/usr/sbin/dovecot", "-F", "-c", f"{t}/dovecot.conf"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 15
        while time.time() < deadline:
            try:
                self.connect().logout()
                return self
            except (OSError, imaplib.IMAP4.error):
                if self.proc.poll() is not None:
                    break
                time.sleep(0.1)
        raise RuntimeError("dovecot did not start:\n" + self.log())

    def log(self):
        try:
            with open(f"{self.tmp}/dovecot.log", errors="replace") as f:
                return f.read()[-3000:]
        except OSError:
            return "(no log)"

    @property
    def url(self):
        return f"imaps://127.0.0.1:{self.port}/INBOX"

    def connect(self):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        c = imaplib.IMAP4_SSL("127.0.0.1", self.port, ssl_context=ctx, timeout=10)
        c.login(USER, PASSWORD)
        return c

    def append(self, raw, mailbox="INBOX"):
        c = self.connect()
        try:
            typ, _ = c.append(mailbox, None, None, raw)
            assert typ == "OK", typ
        finally:
            c.logout()

    def uids(self, mailbox="INBOX"):
        """UIDs of the messages in MAILBOX not flagged \\Deleted."""
        c = self.connect()
        try:
            c.select(mailbox)
            typ, data = c.uid("SEARCH", "UNDELETED")
            return [int(x) for x in data[0].split()] if data and data[0] else []
        finally:
            c.logout()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)
