"""``maildrift effective postfix``: the model as stable JSON, or text like ``postconf -n``."""

from __future__ import annotations

from maildrift.postfix.maincf import display_value
from maildrift.postfix.model import PostfixConfig
from maildrift.postfix.usage import known_names, unused_override_names

__all__ = ["postfix_json", "postfix_text"]


def _main_json(config: PostfixConfig, expand: bool) -> dict:
    known = known_names(config)
    main = {}
    for name in config.main.names():
        assignment = config.main.get(name)
        value = assignment.value
        if expand and config.params.types.get(name) != "raw":
            value = display_value(config.expanded(name).text)
        main[name] = {
            "value": value,
            "value_raw": assignment.value_raw,
            "file": assignment.file,
            "line": assignment.line,
            "known": name in known,
            "shadowed": [
                {"value": a.value, "file": a.file, "line": a.line}
                for a in config.main.shadowed(name)
            ],
        }
    return main


def _services_json(config: PostfixConfig, expand: bool) -> list[dict]:
    unknown = {(key, name) for key, name, _ in unused_override_names(config)}
    services = []
    for service in config.master.services:
        fields = service.fields()
        fields.pop("service")
        fields.pop("type")
        overrides = {}
        for override in service.overrides:
            value = override.value
            if expand and service.effective:
                setting = config.setting_in_process(override.name, service.key)
                value = display_value(config.expand_setting(setting).text)
            overrides[override.name] = {
                "value": value,
                "line": override.line,
                "known": (service.key, override.name) not in unknown,
            }
        limit = config.process_limit(service) if service.effective else None
        services.append(
            {
                "key": service.key,
                "file": service.file,
                "line": service.line,
                "effective": service.effective,
                "fields": fields,
                "process_limit_effective": limit,
                "overrides": overrides,
            }
        )
    return services


def postfix_json(configs: list[PostfixConfig], expand: bool = False) -> dict:
    """The primary instance's model; postmulti instances nest under ``instances``."""
    documents = []
    for config in configs:
        documents.append(
            {
                "config_directory": config.config_directory,
                "instance": config.instance,
                "defaults": config.defaults.source,
                "host_facts": config.facts.source,
                "main": _main_json(config, expand),
                "services": _services_json(config, expand),
                "warnings": [str(w) for w in config.main.warnings + config.master.warnings],
            }
        )
    first = documents[0]
    first["instances"] = documents[1:]
    return first


def postfix_text(configs: list[PostfixConfig], expand: bool = False) -> str:
    """``postconf -n`` and ``postconf -M`` output with ``# file:line`` comments."""
    lines: list[str] = []
    for document in [postfix_json(configs[:1], expand)] + [
        postfix_json([c], expand) for c in configs[1:]
    ]:
        title = document["instance"] or "default instance"
        lines.append(
            f"# {title}: {document['config_directory']} (defaults: {document['defaults']})"
        )
        for name, info in document["main"].items():
            flag = "" if info["known"] else "; unused parameter, Postfix ignores it"
            setting = f"{name} = {info['value']}".rstrip()
            lines.append(f"{setting:<60} # {info['file']}:{info['line']}{flag}")
            for old in info["shadowed"]:
                lines.append(f"{'':<60} #   overrides {old['file']}:{old['line']}: {old['value']}")
        lines.append("")
        for service in document["services"]:
            f = service["fields"]
            state = "" if service["effective"] else "  (replaced by a later entry)"
            name, kind = service["key"].split("/", 1)
            lines.append(
                f"{name:<10} {kind:<5} {f['private']:<3} {f['unprivileged']:<3} {f['chroot']:<3} "
                f"{f['wakeup']:<6} {f['process_limit']:<4} {f['command']}"
                f"  # {service['file']}:{service['line']}{state}"
            )
        for warning in document["warnings"]:
            lines.append(f"# warning: {warning}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
