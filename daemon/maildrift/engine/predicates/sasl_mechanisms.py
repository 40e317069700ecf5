"""Whether Postfix's SASL services can offer any mechanism Dovecot provides.

Each failing case was seen on a real Postfix 3.7 with Dovecot 2.3: smtpd
either dies ("fatal: no SASL authentication mechanisms") or never offers AUTH.

>>> sorted(filter_mechanisms(["plain", "login", "cram-md5"], ["noanonymous", "noplaintext"]))
['cram-md5']
"""

from __future__ import annotations

from maildrift.engine.env import Env
from maildrift.engine.predicates.postfix_tls import cert_source, smtpd_tls_level
from maildrift.engine.results import Outcome
from maildrift.engine.values import postfix_bool, split_list

__all__ = ["MECHANISM_FLAGS", "filter_mechanisms", "sasl_mechanisms_available"]

#: Dovecot mechanism -> the security properties smtpd's options filter on.
MECHANISM_FLAGS = {
    # Dovecot's mech_module flags (verified on the real stack: noactive keeps
    # PLAIN and LOGIN; mutual_auth removes them).
    "plain": {"plaintext"},
    "login": {"plaintext"},
    "anonymous": {"anonymous"},
    "cram-md5": {"dictionary", "active"},
    "digest-md5": {"dictionary", "active", "mutual_auth"},
    "ntlm": {"dictionary", "active"},
    "scram-sha-1": {"mutual_auth"},
    "scram-sha-256": {"mutual_auth"},
    "otp": {"dictionary", "active"},
    "gssapi": {"mutual_auth"},
    "gss-spnego": {"mutual_auth"},
    "external": set(),
    "oauthbearer": {"plaintext"},
    "xoauth2": {"plaintext"},
}
#: Options that keep only mechanisms having the property (the others exclude it).
_REQUIRED_FLAG = {"mutual_auth": "mutual_auth", "forward_secrecy": "forward_secrecy"}
_OPTION_FLAG = {
    "noplaintext": "plaintext",
    "noanonymous": "anonymous",
    "nodictionary": "dictionary",
    "noactive": "active",
}


def filter_mechanisms(mechanisms: list[str], options: list[str]) -> list[str]:
    banned = {_OPTION_FLAG[o.lower()] for o in options if o.lower() in _OPTION_FLAG}
    required = {_REQUIRED_FLAG[o.lower()] for o in options if o.lower() in _REQUIRED_FLAG}
    return [
        m
        for m in mechanisms
        if not (MECHANISM_FLAGS.get(m.lower(), set()) & banned)
        and required <= MECHANISM_FLAGS.get(m.lower(), set())
    ]


def sasl_mechanisms_available(env: Env) -> Outcome:
    key = env.service_key
    mechanisms = [m.lower() for m in split_list(env.dovecot_value("auth_mechanisms").text)]
    opts = env.postfix_value("smtpd_sasl_security_options")
    tls_opts = env.postfix_value("smtpd_sasl_tls_security_options")
    auth_only = env.postfix_value("smtpd_tls_auth_only")
    wrapper = bool(postfix_bool(env.postfix_value("smtpd_tls_wrappermode").text))
    level = smtpd_tls_level(env)
    certs = cert_source(env, key)[0]
    # A configured but missing certificate leaves TLS off (STARTTLS gets 454).
    tls_on = (
        level in ("may", "encrypt")
        and bool(certs)
        and all(env.mail.files.get(path).exists for path in certs)
    )
    plain_offer = not postfix_bool(auth_only.text) and level != "encrypt" and not wrapper
    params = (
        "smtpd_sasl_security_options",
        "smtpd_sasl_tls_security_options",
        "smtpd_tls_auth_only",
        "smtpd_tls_security_level",
        "dovecot:auth_mechanisms",
    )
    offered = ", ".join(mechanisms) or "(none)"
    if plain_offer and not filter_mechanisms(mechanisms, split_list(opts.text)):
        return Outcome(
            "fail",
            actual=f"{opts.text!s} filters out every Dovecot mechanism "
            f"({offered}) while AUTH is offered without TLS",
            expected="a mechanism left, or AUTH only after STARTTLS",
            file=opts.file,
            line=opts.line,
            parameters=params,
            message="smtpd dies with 'fatal: no SASL authentication mechanisms' "
            "on every connection",
        )
    if tls_on and not filter_mechanisms(mechanisms, split_list(tls_opts.text)):
        return Outcome(
            "fail",
            actual=f"{tls_opts.text} filters out every Dovecot mechanism ({offered}) inside TLS",
            expected="a mechanism left inside TLS",
            file=tls_opts.file,
            line=tls_opts.line,
            parameters=params,
            message="smtpd dies right after STARTTLS",
        )
    if postfix_bool(auth_only.text) and not tls_on:
        return Outcome(
            "fail",
            actual=f"smtpd_tls_auth_only = {auth_only.text} with TLS off (level {level})",
            expected="TLS on, or auth_only off",
            file=auth_only.file,
            line=auth_only.line,
            parameters=params,
            message="AUTH is never offered",
        )
    return Outcome("pass", actual=f"mechanisms available: {offered}", parameters=params)
