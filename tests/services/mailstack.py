"""A real, private Postfix + Dovecot (auth only) pair on 127.0.0.1, for service tests.

Everything lives in one temp directory: Postfix's config, queue and data
directories and its ``maillog_file``; Dovecot's config, base_dir, state_dir,
log and passwd-file; a self-signed certificate.  Nothing uses /etc/postfix's
main.cf, /var/spool/postfix, the system Dovecot's base_dir or syslog.

Processes are only ever stopped through their own control commands
(``postfix -c DIR stop``, ``doveadm -c FILE stop``) or, as a fallback, by the
pid recorded in that instance's own pid file.
"""

from __future__ import annotations

import base64
import contextlib
import os
import pwd
import re
import shutil
import signal
import smtplib
import socket
import ssl
import stat
import subprocess
import tempfile
import time
from dataclasses import dataclass, field

FATAL_NO_MECHS = "fatal: no SASL authentication mechanisms"
DEFAULT_LISTENER_MODE = "0660"

#: main.cf lines that keep the instance private; always written first.
PLUMBING = """\
compatibility_level = 3.6
queue_directory = {root}/queue
data_directory = {root}/data
maillog_file = {root}/log/postfix.log
maillog_file_prefixes = {root}/log
syslog_name = maildrift-test
multi_instance_enable = no
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = maildrift-test.invalid
mydomain = invalid
myorigin = $myhostname
mydestination =
relayhost =
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
local_recipient_maps =
biff = no
smtputf8_enable = no
smtpd_tls_loglevel = 1
# no postmaster notices (they would queue mail in the private queue)
notify_classes =
smtpd_sasl_type = dovecot
smtpd_sasl_path = private/auth
"""

#: master.cf for the private instance: chroot off everywhere, smtpd only on 127.0.0.1.
MASTER_SERVICES = """\
postlog   unix-dgram n  -       n       -       1       postlogd
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
cleanup   unix  n       -       n       -       0       cleanup
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
anvil     unix  -       -       n       -       1       anvil
proxymap  unix  -       -       n       -       -       proxymap
error     unix  -       -       n       -       -       error
"""


def find_tool(name: str) -> str:
    """Absolute path of a tool, also looking in /usr/sbin when PATH lacks it."""
    path = shutil.which(name) or next(
        (p for p in (f"/usr/sbin/{name}", f"/usr/bin/{name}") if os.access(p, os.X_OK)), None
    )
    if path is None:
        raise FileNotFoundError(name)
    return path


def _atomic_write(path: str, text: str, backdate: bool = False) -> None:
    """Replace ``path`` by rename, so a daemon reading it never sees a partial file.

    Postfix daemons (postlogd, tlsmgr, new smtpd processes) read main.cf at
    any moment; a postlogd that read a truncated main.cf found no
    ``maillog_file`` and silently dropped all logging for that generation.
    """
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)
    if backdate:
        # Postfix pauses ~1.5 s when it reads a main.cf modified in the last seconds.
        past = time.time() - 10
        os.utime(tmp, (past, past))
    os.replace(tmp, path)


def free_port() -> int:
    """An unused TCP port on 127.0.0.1 (the usual small race is accepted)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _pid_alive(pid: int) -> bool:
    """True while ``pid`` runs; a zombie (exited, not yet reaped by init) counts as gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            state = handle.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def _read_pid(path: str, cwd: str) -> int | None:
    """The live pid in ``path`` whose working directory is ``cwd``, else None.

    Both masters chdir into their own private directory (Postfix: queue_directory,
    Dovecot: base_dir), so a stale pid file whose pid was reused by another
    process is never signalled.
    """
    try:
        with open(path, encoding="ascii") as handle:
            text = handle.read().strip()
    except OSError:
        return None
    if not text.isdigit():
        return None
    pid = int(text)
    try:
        if os.path.realpath(f"/proc/{pid}/cwd") != os.path.realpath(cwd):
            return None
    except OSError:
        return None
    return pid if _pid_alive(pid) else None


def _wait_for(predicate, timeout: float, interval: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def _listening(ports) -> bool:
    """True when every port has a LISTEN socket on 127.0.0.1 (from /proc/net/tcp)."""
    wanted = {f"0100007F:{port:04X}" for port in ports}
    found = set()
    with open("/proc/net/tcp", encoding="ascii") as handle:
        for line in handle.readlines()[1:]:
            fields = line.split()
            if fields[1] in wanted and fields[3] == "0A":
                found.add(fields[1])
    return found == wanted


@dataclass
class SessionResult:
    """What one scripted SMTP session saw."""

    greeted: bool = False
    #: EHLO keywords (lower case) before STARTTLS, or after the handshake with wrappermode.
    features: dict[str, str] = field(default_factory=dict)
    #: Mechanisms offered before STARTTLS; None when AUTH was not offered at all.
    auth_before_tls: list[str] | None = None
    starttls_offered: bool = False
    starttls_code: int | None = None
    tls: bool = False
    features_after_tls: dict[str, str] = field(default_factory=dict)
    auth_after_tls: list[str] | None = None
    #: Reply code and text to the AUTH attempt (None when none was made).
    auth_code: int | None = None
    auth_reply: str = ""
    #: Reply code to ``MAIL FROM`` (None when not tried).
    mail_code: int | None = None
    mail_reply: str = ""
    #: The server closed the connection; ``dropped_at`` names the step (also for timeouts).
    dropped: bool = False
    dropped_at: str = ""
    #: No reply within the timeout (e.g. a throttled service: connect works, no banner).
    timed_out: bool = False
    #: Log lines with ``fatal:`` written by this session (filled by MailStack.smtp_session).
    fatal_lines: list[str] = field(default_factory=list)

    @property
    def fatal_no_mechanisms(self) -> bool:
        return any(FATAL_NO_MECHS in line for line in self.fatal_lines)


def _mechs(features: dict[str, str]) -> list[str] | None:
    if "auth" not in features:
        return None
    return features["auth"].upper().split()


def smtp_session(
    port: int,
    *,
    starttls: bool = True,
    wrapper: bool = False,
    auth: str | None = "PLAIN",
    user: str = "",
    password: str = "",
    mail_from: str | None = None,
    timeout: float = 10.0,
) -> SessionResult:
    """Connect, EHLO, optionally STARTTLS and EHLO again, optionally AUTH.

    ``auth`` is ``"PLAIN"`` (initial response), ``"LOGIN"`` or None.  The
    AUTH command is sent even when AUTH was not advertised, so the reply code
    (503, 535, 235...) is recorded.  With ``mail_from``, a ``MAIL FROM`` follows
    and its reply code is recorded.  TLS certificates are not verified.
    """
    result = SessionResult()
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    step = "connect"
    client: smtplib.SMTP | None = None
    try:
        if wrapper:
            client = smtplib.SMTP_SSL(timeout=timeout, context=context)
            client._host = "localhost"  # SNI name; connect() does not set it
        else:
            client = smtplib.SMTP(timeout=timeout)
        code, _ = client.connect("127.0.0.1", port)
        result.greeted = code == 220
        result.tls = wrapper
        step = "ehlo"
        client.ehlo("client.invalid")
        result.features = dict(client.esmtp_features)
        if wrapper:
            result.features_after_tls = result.features
            result.auth_after_tls = _mechs(result.features)
        else:
            result.auth_before_tls = _mechs(result.features)
        result.starttls_offered = "starttls" in result.features
        if starttls and not wrapper and result.starttls_offered:
            step = "starttls"
            code, _ = client.docmd("STARTTLS")
            result.starttls_code = code
            if code == 220:
                client.sock = context.wrap_socket(client.sock, server_hostname="localhost")
                client.file = None
                client.helo_resp = client.ehlo_resp = None
                client.esmtp_features = {}
                client.does_esmtp = False
                result.tls = True
                step = "ehlo after starttls"
                client.ehlo("client.invalid")
                result.features_after_tls = dict(client.esmtp_features)
                result.auth_after_tls = _mechs(result.features_after_tls)
        if auth:
            step = "auth"
            if auth.upper() == "PLAIN":
                token = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
                code, reply = client.docmd("AUTH", f"PLAIN {token}")
            elif auth.upper() == "LOGIN":
                code, reply = client.docmd("AUTH", "LOGIN")
                if code == 334:
                    code, reply = client.docmd(base64.b64encode(user.encode()).decode())
                if code == 334:
                    code, reply = client.docmd(base64.b64encode(password.encode()).decode())
            else:
                code, reply = client.docmd("AUTH", auth)
            result.auth_code = code
            result.auth_reply = reply.decode(errors="replace")
            if code == 421:
                result.dropped, result.dropped_at = True, step
        if mail_from is not None:
            step = "mail from"
            code, reply = client.docmd("MAIL", f"FROM:<{mail_from}>")
            result.mail_code = code
            result.mail_reply = reply.decode(errors="replace")
        step = "quit"
        with contextlib.suppress(smtplib.SMTPException, OSError):
            client.quit()
    except (smtplib.SMTPServerDisconnected, OSError, EOFError) as exc:
        # smtplib reports a read timeout as SMTPServerDisconnected; the cause tells.
        if isinstance(exc, socket.timeout) or isinstance(exc.__context__, socket.timeout):
            result.timed_out = True
        else:
            result.dropped = True
        result.dropped_at = f"{step} ({type(exc).__name__})"
    finally:
        if client is not None:
            with contextlib.suppress(OSError):
                client.close()
    return result


class MailStack:
    """A private Postfix instance with SASL via a private Dovecot auth service."""

    user = "alice"
    password = "wonderland-42"

    def __init__(self, root: str | None = None) -> None:
        self.root = root or tempfile.mkdtemp(prefix="maildrift-stack-")
        # The postfix and dovecot users must traverse it (mkdtemp makes 0700).
        os.chmod(self.root, 0o755)
        self.config_dir = os.path.join(self.root, "postfix")
        self.queue_dir = os.path.join(self.root, "queue")
        self.data_dir = os.path.join(self.root, "data")
        self.log_dir = os.path.join(self.root, "log")
        self.postfix_log_path = os.path.join(self.log_dir, "postfix.log")
        self.dovecot_dir = os.path.join(self.root, "dovecot")
        self.dovecot_conf = os.path.join(self.dovecot_dir, "dovecot.conf")
        self.dovecot_base = os.path.join(self.dovecot_dir, "run")
        self.dovecot_state = os.path.join(self.dovecot_dir, "state")
        self.dovecot_log_path = os.path.join(self.log_dir, "dovecot.log")
        self.passwd_file = os.path.join(self.dovecot_dir, "users")
        self.auth_socket = os.path.join(self.queue_dir, "private", "auth")
        self.cert = os.path.join(self.root, "tls", "cert.pem")
        self.key = os.path.join(self.root, "tls", "key.pem")
        self.smtp_port = free_port()
        self.submission_port = free_port()
        while self.submission_port == self.smtp_port:
            self.submission_port = free_port()
        self.main_params: dict[str, str] = {}
        self.master_overrides: dict[str, dict[str, str]] = {"smtp": {}, "submission": {}}
        self.auth_listener_mode = DEFAULT_LISTENER_MODE
        self._clean_mark = 0
        self.dovecot_extra = ""
        self.postfix_running = False
        self.dovecot_running = False
        for directory in (self.config_dir, self.queue_dir, self.log_dir, self.dovecot_dir):
            os.makedirs(directory, mode=0o755, exist_ok=True)
        os.makedirs(os.path.dirname(self.cert), mode=0o755, exist_ok=True)
        os.makedirs(self.dovecot_state, mode=0o750, exist_ok=True)
        self._make_cert()
        self._write_passwd()
        self.write_main()
        self.write_master()
        self.write_dovecot()

    # ------------------------------------------------------------------ setup

    @staticmethod
    def tool(name: str) -> str:
        """Absolute path of ``postfix``, ``postconf``, ``dovecot``, ``doveadm``..."""
        return find_tool(name)

    def _make_cert(self) -> None:
        subprocess.run(
            [
                self.tool("openssl"), "req", "-x509", "-newkey", "ec",
                "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", self.key, "-out", self.cert, "-days", "2",
                "-subj", "/CN=localhost",
            ],
            check=True, capture_output=True,
        )  # fmt: skip
        os.chmod(self.key, 0o600)

    def _write_passwd(self) -> None:
        with open(self.passwd_file, "w", encoding="utf-8") as handle:
            handle.write(f"{self.user}:{{PLAIN}}{self.password}::::::\n")
        os.chmod(self.passwd_file, 0o640)
        os.chown(self.passwd_file, 0, pwd.getpwnam("dovecot").pw_gid)

    def hardened(self, **changes: str | None) -> dict[str, str]:
        """The hardened SASL/TLS parameters, with ``changes`` applied (None removes)."""
        params = {
            "smtpd_tls_security_level": "may",
            "smtpd_tls_cert_file": self.cert,
            "smtpd_tls_key_file": self.key,
            "smtpd_sasl_auth_enable": "yes",
            "smtpd_tls_auth_only": "yes",
            "smtpd_sasl_security_options": "noanonymous, noplaintext",
            "smtpd_sasl_tls_security_options": "noanonymous",
        }
        for name, value in changes.items():
            if value is None:
                params.pop(name, None)
            else:
                params[name] = value
        return params

    def plumbing(self) -> str:
        """The fixed main.cf lines that keep this instance private."""
        return PLUMBING.format(root=self.root)

    def write_main(self, text: str = "") -> None:
        """Write main.cf as the plumbing lines followed by ``text`` (later lines win)."""
        path = os.path.join(self.config_dir, "main.cf")
        _atomic_write(path, self.plumbing() + "\n# test settings\n" + text, backdate=True)

    def set_main(self, **params: str | None) -> None:
        """Set (or with None, remove) policy parameters and rewrite main.cf."""
        for name, value in params.items():
            if value is None:
                self.main_params.pop(name, None)
            else:
                self.main_params[name] = value
        self._render_main()

    def reset_main(self, **params: str) -> None:
        """Replace all policy parameters with ``params`` and rewrite main.cf."""
        self.main_params = dict(params)
        self._render_main()

    def _render_main(self) -> None:
        self.write_main("".join(f"{k} = {v}\n" for k, v in self.main_params.items()))

    def write_master(self, text: str | None = None) -> None:
        """Write master.cf: ``text`` verbatim, or the default services plus smtpd entries."""
        if text is None:
            lines = [MASTER_SERVICES]
            ports = {"smtp": self.smtp_port, "submission": self.submission_port}
            for service, port in ports.items():
                lines.append(f"127.0.0.1:{port} inet n - n - - smtpd\n")
                lines.append(f"  -o syslog_name=maildrift-test/{service}\n")
                # One connection per smtpd: every session reads the current main.cf.
                lines.append("  -o max_use=1\n")
                for name, value in self.master_overrides[service].items():
                    lines.append(f"  -o {{ {name} = {value} }}\n")
            text = "".join(lines)
        _atomic_write(os.path.join(self.config_dir, "master.cf"), text)

    def set_master_override(self, service: str, name: str, value: str | None) -> None:
        """Set (or remove) ``-o name=value`` on the ``smtp`` or ``submission`` smtpd."""
        if value is None:
            self.master_overrides[service].pop(name, None)
        else:
            self.master_overrides[service][name] = value
        self.write_master()

    def clear_master_overrides(self) -> None:
        self.master_overrides = {"smtp": {}, "submission": {}}
        self.write_master()

    def write_dovecot(self, extra: str | None = None, listener_mode: str | None = None) -> None:
        """Write dovecot.conf; ``extra`` is appended, ``listener_mode`` is written verbatim."""
        if extra is not None:
            self.dovecot_extra = extra
        if listener_mode is not None:
            self.auth_listener_mode = listener_mode
        text = f"""\
protocols =
listen = 127.0.0.1
base_dir = {self.dovecot_base}
state_dir = {self.dovecot_state}
log_path = {self.dovecot_log_path}
info_log_path = {self.dovecot_log_path}
instance_name = maildrift-test
ssl = no
auth_mechanisms = plain login
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {self.passwd_file}
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home=/nonexistent
}}
service auth {{
  unix_listener {self.auth_socket} {{
    mode = {self.auth_listener_mode}
    user = postfix
    group = postfix
  }}
}}
{self.dovecot_extra}
"""
        _atomic_write(self.dovecot_conf, text)

    # -------------------------------------------------------------- commands

    def _postfix(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            [self.tool("postfix"), "-c", self.config_dir, *args],
            capture_output=True, text=True, check=check, timeout=60,
        )  # fmt: skip

    def _doveadm(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            [self.tool("doveadm"), "-c", self.dovecot_conf, *args],
            capture_output=True, text=True, check=check, timeout=60,
        )  # fmt: skip

    @property
    def postfix_pid_file(self) -> str:
        return os.path.join(self.queue_dir, "pid", "master.pid")

    @property
    def dovecot_pid_file(self) -> str:
        return os.path.join(self.dovecot_base, "master.pid")

    def postfix_master_pid(self) -> int | None:
        """This instance's running Postfix master, from its own pid file."""
        return _read_pid(self.postfix_pid_file, self.queue_dir)

    def dovecot_master_pid(self) -> int | None:
        """This instance's running Dovecot master, from its own pid file."""
        return _read_pid(self.dovecot_pid_file, self.dovecot_base)

    def start(self) -> None:
        """Start Postfix (which creates its queue directories), then Dovecot."""
        self.start_postfix()
        self.start_dovecot()

    def start_postfix(self) -> None:
        """``postfix -c DIR start``; master -w returns once the listeners are open."""
        mark = self.postfix_log_mark()
        proc = self._postfix("start", check=False)
        if proc.returncode != 0:
            raise RuntimeError(
                f"postfix start failed ({proc.returncode}): {proc.stderr}\n"
                f"{self.postfix_log(since=mark)}"
            )
        self.postfix_running = True  # master -w has waited for the listeners

    def start_dovecot(self) -> None:
        """``dovecot -c FILE``; waits for the auth socket in Postfix's private/."""
        # Dovecot's daemon keeps inherited stdio open, so never use pipes here.
        out_path = os.path.join(self.log_dir, "dovecot-start.out")
        with open(out_path, "w+", encoding="utf-8") as out:
            proc = subprocess.run(
                [self.tool("dovecot"), "-c", self.dovecot_conf],
                stdin=subprocess.DEVNULL, stdout=out, stderr=out, check=False, timeout=60,
            )  # fmt: skip
            out.seek(0)
            output = out.read()
        if proc.returncode != 0:
            raise RuntimeError(f"dovecot start failed: {output}\n{self.dovecot_log()}")
        self.dovecot_running = True
        if not _wait_for(lambda: os.path.exists(self.auth_socket), 10):
            raise RuntimeError(f"dovecot auth socket missing\n{self.dovecot_log()}")

    def stop(self) -> None:
        """Stop both services; each is attempted even if the other fails."""
        errors = []
        for stopper in (self.stop_postfix, self.stop_dovecot):
            try:
                stopper()
            except Exception as exc:  # keep stopping the rest
                errors.append(f"{stopper.__name__}: {exc!r}")
        if errors:
            raise RuntimeError("; ".join(errors))

    def stop_postfix(self) -> None:
        """``postfix -c DIR stop``; SIGTERM to the pid-file pid if that did not work."""
        pid = self.postfix_master_pid()
        if pid is not None:
            self._postfix("stop", check=False)
            self._kill_pid(pid, "postfix master")
        self.postfix_running = False

    def stop_dovecot(self) -> None:
        """``doveadm -c FILE stop``; SIGTERM to the pid-file pid if that did not work."""
        pid = self.dovecot_master_pid()
        if pid is not None:
            self._doveadm("stop", check=False)
            self._kill_pid(pid, "dovecot master")
        self.dovecot_running = False

    @staticmethod
    def _kill_pid(pid: int, what: str, wait_first: float = 5) -> None:
        """Wait for ``pid`` (from this instance's own pid file) to exit; TERM, then KILL it."""
        if _wait_for(lambda: not _pid_alive(pid), wait_first):
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        if _wait_for(lambda: not _pid_alive(pid), 5):
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        if not _wait_for(lambda: not _pid_alive(pid), 5):
            raise RuntimeError(f"{what} pid {pid} did not exit")

    def restart_dovecot(self) -> None:
        """Stop and start Dovecot (a full restart, not a reload)."""
        self.stop_dovecot()
        self.start_dovecot()

    def restart_postfix(self) -> None:
        """Stop and start Postfix: clears master's throttling after fatal errors.

        Stops the way ``postfix stop`` does (SIGTERM to the pid in this
        instance's master.pid) but polls for the exit instead of sleeping 1 s.
        """
        pid = self.postfix_master_pid()
        if pid is not None:
            self._kill_pid(pid, "postfix master", wait_first=0)
        self.postfix_running = False
        self.start_postfix()

    def reload_postfix(self) -> None:
        """``postfix reload`` (needed for master.cf edits); waits for master to re-listen.

        Readiness is read from /proc/net/tcp, not probed by connecting: a probe
        would itself start an smtpd (and, under a broken config, a fatal error).
        """
        mark = self.postfix_log_mark()
        self._postfix("reload")
        if not _wait_for(lambda: "reload -- version" in self.postfix_log(since=mark), 10):
            raise RuntimeError(f"postfix reload not logged\n{self.postfix_log(since=mark)}")
        ports = (self.smtp_port, self.submission_port)
        if not _wait_for(lambda: _listening(ports), 10):
            raise RuntimeError(f"smtpd ports not listening\n{self.postfix_log(since=mark)}")
        time.sleep(0.2)

    def reload_dovecot(self) -> None:
        """``doveadm reload``; waits until the master has logged the SIGHUP.

        Listeners whose settings changed are recreated shortly afterwards;
        unchanged ones are kept.  Callers that need a recreated socket poll it.
        """
        before = self.dovecot_log().count("SIGHUP received")
        self._doveadm("reload")
        if not _wait_for(lambda: self.dovecot_log().count("SIGHUP received") > before, 10):
            raise RuntimeError(f"dovecot reload not logged\n{self.dovecot_log()}")
        if not _wait_for(lambda: os.path.exists(self.auth_socket), 10):
            raise RuntimeError(f"auth socket missing after reload\n{self.dovecot_log()}")

    def auth_socket_mode(self) -> int | None:
        """Permission bits of the auth socket, or None while it is missing."""
        try:
            return stat.S_IMODE(os.stat(self.auth_socket).st_mode)
        except FileNotFoundError:
            return None

    # ------------------------------------------------------------------ logs

    def postfix_log_mark(self) -> int:
        try:
            return os.path.getsize(self.postfix_log_path)
        except FileNotFoundError:
            return 0

    def postfix_log(self, since: int = 0) -> str:
        """The Postfix ``maillog_file`` text (from byte offset ``since``)."""
        try:
            with open(self.postfix_log_path, "rb") as handle:
                handle.seek(since)
                return handle.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def dovecot_log(self) -> str:
        try:
            with open(self.dovecot_log_path, encoding="utf-8", errors="replace") as handle:
                return handle.read()
        except FileNotFoundError:
            return ""

    def wait_for_postfix_log(self, pattern: str, since: int = 0, timeout: float = 3.0) -> bool:
        regex = re.compile(pattern)
        return _wait_for(lambda: bool(regex.search(self.postfix_log(since))), timeout)

    # --------------------------------------------------------------- session

    def smtp_session(
        self, port: int | None = None, *, fatal_wait: float | None = None, **kwargs
    ) -> SessionResult:
        """:func:`smtp_session` as :attr:`user`, plus the ``fatal:`` lines it caused.

        After a dropped connection the log is polled up to 3 s for the fatal
        line (postlogd writes asynchronously); otherwise for ``fatal_wait``
        (default 0.1 s) so that a late fatal is still seen.
        """
        kwargs.setdefault("user", self.user)
        kwargs.setdefault("password", self.password)
        mark = self.postfix_log_mark()
        result = smtp_session(port or self.smtp_port, **kwargs)
        wait = fatal_wait if fatal_wait is not None else (3.0 if result.dropped else 0.1)
        self.wait_for_postfix_log(r"\bfatal: ", since=mark, timeout=wait)
        result.fatal_lines = [
            line for line in self.postfix_log(since=mark).splitlines() if " fatal: " in line
        ]
        return result

    def ensure_clean(self) -> None:
        """Bring a running stack back to the hardened baseline between tests.

        Resets main.cf, master.cf overrides and dovecot.conf.  Postfix is
        restarted only if master.cf changed or smtpd hit a fatal error since
        the last call (master throttles the service after one); Dovecot is
        reloaded only if its configuration changed.
        """
        self.reset_main(**self.hardened())
        log = self.postfix_log(since=self._clean_mark)
        master_changed = any(self.master_overrides.values())
        if master_changed:
            self.clear_master_overrides()
        if master_changed or " fatal: " in log or "throttling" in log:
            self.restart_postfix()
        if (self.dovecot_extra, self.auth_listener_mode) != ("", DEFAULT_LISTENER_MODE):
            self.write_dovecot(extra="", listener_mode=DEFAULT_LISTENER_MODE)
            self.reload_dovecot()
            if not _wait_for(lambda: self.auth_socket_mode() == 0o660, 10):
                raise RuntimeError(f"auth socket mode not restored\n{self.dovecot_log()}")
        self._clean_mark = self.postfix_log_mark()

    def cleanup(self) -> None:
        """Stop everything and remove the temp directory."""
        try:
            self.stop()
        finally:
            if os.environ.get("MAILDRIFT_KEEP_STACK") != "1":
                shutil.rmtree(self.root, ignore_errors=True)
