"""The composition root of ``maildrift run``: builds every collaborator once, passes them in."""

from __future__ import annotations

import sys

from maildrift.errors import EXIT_USAGE, MaildriftError
from maildrift.service.config import load_daemon_config, parse_listen

__all__ = ["run_daemon"]


def _start_http(config, metrics, log):
    if config.listen is None:
        return None
    from prometheus_client import start_http_server

    host, port = config.listen
    kwargs = {}
    if config.tls_cert:
        kwargs.update(certfile=config.tls_cert, keyfile=config.tls_key)
        if config.tls_client_ca:
            kwargs.update(client_cafile=config.tls_client_ca, client_auth_required=True)
    server = start_http_server(port, addr=host, registry=metrics.registry, **kwargs)
    log.info("metrics_listening", address=f"{host}:{port}", tls=bool(config.tls_cert))
    return server


def run_daemon(args) -> int:
    """Build and run the daemon; configuration errors exit 2 before anything starts."""
    import prometheus_client

    from maildrift.loadcache import LoadCache
    from maildrift.loading import load_mail_config
    from maildrift.policy import load_waivers
    from maildrift.policyload import load_site_policy
    from maildrift.service.daemon import Daemon, DaemonDeps
    from maildrift.service.enforce_wiring import build_enforcer
    from maildrift.service.logs import configure_logging
    from maildrift.service.metrics import Metrics
    from maildrift.service.notify import Notifier
    from maildrift.watch import make_watcher
    from maildrift.wiring import build_sources

    notifier = Notifier()  # first: it takes NOTIFY_SOCKET out of the environment
    # The quarantine's worker and the watcher need the interpreter back as soon
    # as an fsync or a read returns; at the default 5 ms a busy main loop keeps
    # them waiting that long.
    sys.setswitchinterval(0.0005)
    try:
        config = load_daemon_config(args.config)
        config = config.with_overrides(
            mode=args.mode,
            state_dir=args.state_dir,
            host_facts=args.host_facts,
            listen=parse_listen(args.listen) if args.listen else None,
        )
        if getattr(args, "no_reload", False):
            config = config.without_reload()
        log = configure_logging(config.log_format)
        sources = build_sources(
            root=args.root,
            postfix_dir=config.postfix_dirs[0],
            dovecot_config=config.dovecot_configs[0],
            host_facts=config.host_facts,
            postfix_version=config.postfix_version,
        )

        def load_policy():
            return load_site_policy(policy_dir=config.policy_dir, extra=config.policies)

        def load_waiver_list(policy):
            if not config.waivers:
                return []
            return load_waivers(config.waivers, {r.id for r in policy.rules})

        load_policy()  # a broken policy is refused before anything starts
    except MaildriftError as exc:
        print(f"maildrift: {exc}", file=sys.stderr)
        return EXIT_USAGE
    prometheus_client.disable_created_metrics()
    metrics = Metrics()
    try:
        _start_http(config, metrics, log)
    except OSError as exc:
        print(f"maildrift: metrics endpoint {config.listen}: {exc.strerror}", file=sys.stderr)
        return EXIT_USAGE

    def watcher_factory(sink):
        return make_watcher(sink, scan_interval=config.scan_interval_s)

    # Components whose files read the same as last time are not parsed again.
    load_cache = LoadCache()
    running: list = []  # the Daemon, once built: slow reloads keep its watchdog fed

    def heartbeat() -> None:
        for daemon in running:
            daemon.keepalive()

    enforcer, pause = build_enforcer(
        config, sources, metrics.registry, log, heartbeat, live_cache=load_cache
    )
    deps = DaemonDeps(
        config=config,
        load_policy=load_policy,
        load_waivers=load_waiver_list,
        load_mail=lambda: load_mail_config(sources, cache=load_cache),
        make_watcher=watcher_factory,
        host_path=sources.reader.host_path,
        metrics=metrics,
        notifier=notifier,
        log=log,
        enforcer=enforcer,
        pause=pause,
    )
    daemon = Daemon(deps)
    running.append(daemon)
    try:
        return daemon.run()
    except MaildriftError as exc:
        print(f"maildrift: {exc}", file=sys.stderr)
        return EXIT_USAGE
