"""The named cross-component predicates a policy may call (a fixed registry)."""

from __future__ import annotations

from maildrift.engine.predicates import (
    dovecot_side,
    permissions,
    postfix_lists,
    postfix_tls,
    sasl_mechanisms,
    smtpd_services,
)

__all__ = ["PREDICATES"]

PREDICATES = {
    "exposed_service": smtpd_services.exposed_service,
    "sasl_service": smtpd_services.sasl_service,
    "sasl_enabled_somewhere": smtpd_services.sasl_enabled_somewhere,
    "sasl_path_valid": smtpd_services.sasl_path_valid,
    "smtpd_process_limits": smtpd_services.smtpd_process_limits,
    "reader_range": smtpd_services.reader_range,
    "event_limit_exceptions": postfix_lists.event_limit_exceptions,
    "relay_restrictions": postfix_lists.relay_restrictions,
    "unknown_parameters": postfix_lists.unknown_parameters,
    "smtpd_tls_ready": postfix_tls.smtpd_tls_ready,
    "tls_level": postfix_tls.tls_level,
    "tls_auth_only": postfix_tls.tls_auth_only,
    "tls_protocols": postfix_tls.tls_protocols,
    "dovecot_auth_listener": dovecot_side.dovecot_auth_listener,
    "auth_inet_listener": dovecot_side.auth_inet_listener,
    "dovecot_ssl": dovecot_side.dovecot_ssl,
    "dovecot_plaintext_auth": dovecot_side.dovecot_plaintext_auth,
    "sasl_mechanisms_available": sasl_mechanisms.sasl_mechanisms_available,
    "config_permissions": permissions.config_permissions,
    "secret_permissions": permissions.secret_permissions,
}
