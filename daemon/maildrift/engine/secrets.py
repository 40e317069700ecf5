"""Which files hold secrets, and which files the configuration names.

Secret files (private keys, SASL password maps, Dovecot passwd-files) are
tracked by metadata only everywhere in the product: never read, hashed or
copied.

>>> is_secret_name("/etc/postfix/sasl_passwd.db"), is_secret_name("/etc/pki/tls/private/x.key")
(True, True)
>>> is_secret_name("/etc/postfix/main.cf")
False
>>> table_files("cidr:/etc/postfix/ex.cidr, 10.0.0.0/8 /etc/postfix/list hash:/etc/postfix/h")
[('cidr', '/etc/postfix/ex.cidr'), ('file', '/etc/postfix/list'), ('hash', '/etc/postfix/h')]
"""

from __future__ import annotations

import fnmatch
import functools
import re

from maildrift.engine.values import split_list

__all__ = [
    "CERT_PARAMS",
    "KEY_PARAMS",
    "is_secret_name",
    "postfix_key_files",
    "referenced_files",
    "secret_map_files",
    "table_files",
]

#: Postfix parameters naming private keys.
KEY_PARAMS = (
    "smtpd_tls_key_file",
    "smtpd_tls_eckey_file",
    "smtpd_tls_dkey_file",
    "smtp_tls_key_file",
    "smtp_tls_eckey_file",
    "lmtp_tls_key_file",
)
#: Postfix parameters naming certificates.
CERT_PARAMS = ("smtpd_tls_cert_file", "smtpd_tls_eccert_file", "smtpd_tls_dcert_file")
_SECRET_PATTERNS = (
    "*.key",
    "*sasl_passwd*",
    "*passwd*",
    "*/private/*",
    "*password*",
    "*.p12",
    "*shadow*",
)
_MAP_SUFFIXES = {
    "hash": (".db",),
    "btree": (".db",),
    "lmdb": (".lmdb",),
    "cdb": (".cdb",),
    "dbm": (".dir", ".pag"),
    "sdbm": (".dir", ".pag"),
}
_TABLE = re.compile(r"^(?:proxy:)?([a-z0-9_]+):(/\S+)$")


@functools.lru_cache(maxsize=4096)
def is_secret_name(path: str) -> bool:
    return any(fnmatch.fnmatch(path, pattern) for pattern in _SECRET_PATTERNS)


def table_files(value: str) -> list[tuple[str, str]]:
    """(type, path) of every table or plain file a Postfix list value names."""
    found = []
    for item in split_list(value.replace("{", " ").replace("}", " ")):
        match = _TABLE.match(item)
        if match:
            found.append((match.group(1), match.group(2)))
        elif item.startswith("/"):
            found.append(("file", item))
    return found


def _map_paths(kind: str, path: str) -> list[str]:
    return [path] + [path + suffix for suffix in _MAP_SUFFIXES.get(kind, ())]


def postfix_key_files(config) -> list[str]:
    paths = [config.expanded(name).text.strip() for name in KEY_PARAMS]
    chain = config.expanded("smtpd_tls_chain_files").text
    paths += [p for p in split_list(chain)]
    return [p for p in paths if p.startswith("/")]


def secret_map_files(config) -> list[str]:
    """Files of maps whose name says they hold passwords (smtp_sasl_password_maps, ...)."""
    paths = []
    for name in config.main.names():
        if "password" in name or "passwd" in name:
            for kind, path in table_files(config.expanded(name).text):
                paths += _map_paths(kind, path)
    return paths


def _dovecot_file_value(value: str) -> str | None:
    return value[1:].strip() if value.startswith("<") else None


def dovecot_secret_files(dovecot) -> list[str]:
    paths = []
    for name in ("ssl_key", "ssl_server_key_file", "ssl_dh"):
        setting = dovecot.get(name)
        if setting is not None:
            path = (
                _dovecot_file_value(setting.value)
                if name != "ssl_server_key_file"
                else setting.value
            )
            if path:
                paths.append(path)
    for section in dovecot.root.walk():
        if section.type in ("passdb", "userdb") and section.value("driver") == "passwd-file":
            for word in (section.value("args") or "").split():
                if word.startswith("/"):
                    paths.append(word)
    return paths


def dovecot_cert_files(dovecot) -> list[str]:
    paths = []
    for name in ("ssl_cert", "ssl_server_cert_file"):
        setting = dovecot.get(name)
        if setting is not None:
            path = _dovecot_file_value(setting.value) if name == "ssl_cert" else setting.value
            if path:
                paths.append(path)
    return paths


def _postfix_files(config) -> list[tuple[str, bool, bool]]:
    found: list[tuple[str, bool, bool]] = []
    try:
        found += [(p, True, False) for p in postfix_key_files(config)]
        found += [(p, True, False) for p in secret_map_files(config)]
        for name in CERT_PARAMS:
            path = config.expanded(name).text.strip()
            if path.startswith("/"):
                found.append((path, False, False))
        exceptions = config.expanded("smtpd_client_event_limit_exceptions").text
        for kind, path in table_files(exceptions):
            found += [(p, False, True) for p in _map_paths(kind, path)]
        found.append((config.expanded("queue_directory").text.strip(), False, False))
    except Exception:
        return []
    return found


def _postfix_files_memo(config) -> list[tuple[str, bool, bool]]:
    # Main-context values only: a function of main.cf's parse (shared by every
    # model of the same text), the defaults, the host facts and the directory.
    inputs = (config.defaults, config.facts, config.params)
    cached = config.main.__dict__.get("_referenced_files")
    if (
        cached is not None
        and cached[1] == config.config_directory
        and all(a is b for a, b in zip(cached[0], inputs))
    ):
        return cached[2]
    found = _postfix_files(config)
    object.__setattr__(config.main, "_referenced_files", (inputs, config.config_directory, found))
    return found


def referenced_files(postfix_configs, dovecot) -> list[tuple[str, bool, bool]]:
    """(path, secret, read content) for each file the policy may inspect."""
    found: list[tuple[str, bool, bool]] = []
    for config in postfix_configs:
        found += _postfix_files_memo(config)
    if dovecot is not None:
        found += [(p, True, False) for p in dovecot_secret_files(dovecot)]
        found += [(p, False, False) for p in dovecot_cert_files(dovecot)]
    return found
