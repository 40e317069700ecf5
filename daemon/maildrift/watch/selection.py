"""Choosing a backend: pyinotify, else watchdog, else polling -- per directory if need be.

``select_backend`` builds the first backend that works on this host (imports,
gets an inotify instance) and says why the ones before it did not.
``make_watcher`` wraps it in a ``FallbackWatcher``, because a backend can
also fail later, for one directory: when ``add_directory`` hits the inotify
watch limit that directory is polled instead (watchdog uses inotify too, so
it would hit the same limit); any other inotify failure tries watchdog.  A
path error (missing, not a directory) is raised at once: no backend helps.
"""

from __future__ import annotations

import os
from typing import Callable

from maildrift.watch.events import (
    Sink,
    WatchError,
    WatchLimitError,
    WatchPathError,
    check_directory,
)
from maildrift.watch.polling_backend import DEFAULT_POLL_INTERVAL
from maildrift.watch.scan import default_is_secret

__all__ = ["ORDER", "FallbackWatcher", "make_watcher", "select_backend"]

#: Strongest first; the weakest one in use is what ``backend`` reports.
ORDER = ("pyinotify", "watchdog", "poll")


def _build(name: str, sink: Sink, options: dict):
    # Imported here: pyinotify may not import (Python 3.12 without pyasyncore),
    # and a host without watchdog must still get pyinotify or polling.
    if name == "pyinotify":
        from maildrift.watch.pyinotify_backend import PyinotifyWatcher

        return PyinotifyWatcher(sink, report_modify=options["report_modify"])
    if name == "watchdog":
        from maildrift.watch.watchdog_backend import WatchdogWatcher

        return WatchdogWatcher(
            sink,
            scan_interval=options["scan_interval"],
            is_secret=options["is_secret"],
            report_modify=options["report_modify"],
        )
    if name == "poll":
        from maildrift.watch.polling_backend import PollingWatcher

        return PollingWatcher(
            sink, interval=options["poll_interval"], is_secret=options["is_secret"]
        )
    raise ValueError(f"unknown watch backend {name!r}; choose from {', '.join(ORDER)}")


def _why(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def select_backend(sink: Sink, prefer: str = "pyinotify", **options):
    """(watcher, reason): the first backend from ``prefer`` on (in ORDER) that can be built."""
    if prefer not in ORDER:
        raise ValueError(f"unknown watch backend {prefer!r}; choose from {', '.join(ORDER)}")
    options = _options(options)
    skipped = []
    for name in ORDER[ORDER.index(prefer) :]:
        try:
            watcher = _build(name, sink, options)
        except Exception as exc:  # ImportError, OSError (EMFILE) ...
            skipped.append(f"{name} unavailable ({_why(exc)})")
            continue
        reason = "; ".join(skipped) or f"{name} preferred"
        return watcher, reason
    raise AssertionError("polling always builds")  # pragma: no cover


def _options(options: dict) -> dict:
    unknown = set(options) - {"scan_interval", "poll_interval", "is_secret", "report_modify"}
    if unknown:
        raise TypeError(f"unknown watcher options: {', '.join(sorted(unknown))}")
    return {
        "scan_interval": options.get("scan_interval", 5.0),
        "poll_interval": options.get("poll_interval", DEFAULT_POLL_INTERVAL),
        "is_secret": options.get("is_secret") or default_is_secret,
        "report_modify": bool(options.get("report_modify", False)),
    }


class FallbackWatcher:
    """The selected backend, with weaker ones taking the directories it cannot watch.

    ``backend`` names the weakest backend holding a directory (the selected
    one while none does), which is what ``maildrift_watch_backend_info`` shows;
    ``reason`` says why; ``backends()`` maps each directory to its backend.
    A directory sent to a weaker backend stays there until the watcher is
    rebuilt, which the daemon does when ``alive()`` turns false.
    """

    def __init__(self, sink: Sink, prefer: str = "pyinotify", **options) -> None:
        self._sink = sink
        self._options = _options(options)
        primary, self.reason = select_backend(sink, prefer, **self._options)
        self._chain = list(ORDER[ORDER.index(primary.backend) :])
        self._running: dict[str, object] = {primary.backend: primary}
        self._started = False

    @property
    def backend(self) -> str:
        used = [name for name, w in self._running.items() if w.directories()]
        if not used:
            return self._chain[0]
        return max(used, key=ORDER.index)

    @property
    def errors(self) -> int:
        return sum(getattr(w, "errors", 0) for w in self._running.values())

    def backends(self) -> dict[str, str]:
        return {d: name for name, w in self._running.items() for d in w.directories()}

    def _get(self, name: str):
        watcher = self._running.get(name)
        if watcher is None:
            watcher = _build(name, self._sink, self._options)
            if self._started:
                watcher.start()
            self._running[name] = watcher
        return watcher

    def add_directory(self, path: str) -> None:
        path = os.path.normpath(os.path.abspath(path))
        if path in self.backends():
            return
        check_directory(path)  # path problems are the caller's, whatever the backend
        last: Exception | None = None
        for name in self._chain:
            if isinstance(last, WatchLimitError) and name == "watchdog":
                continue  # watchdog uses inotify: the same limit would stop it
            try:
                self._get(name).add_directory(path)
            except WatchPathError:
                raise
            except Exception as exc:  # WatchLimitError, WatchError, a backend that cannot start
                last = exc
                self.reason = f"{path}: {name} failed ({_why(exc)})"
                continue
            if name != self._chain[0]:
                self.reason += f"; {path} watched by {name}"
            return
        raise last if isinstance(last, WatchError) else WatchError(0, str(last), path)

    def remove_directory(self, path: str) -> None:
        for watcher in self._running.values():
            watcher.remove_directory(path)

    def directories(self) -> list[str]:
        return sorted(self.backends())

    def start(self) -> None:
        self._started = True
        for watcher in self._running.values():
            watcher.start()

    def stop(self) -> None:
        for watcher in self._running.values():
            watcher.stop()

    def alive(self) -> bool:
        return self._started and all(w.alive() for w in self._running.values())


def make_watcher(
    sink: Sink,
    prefer: str = "pyinotify",
    *,
    scan_interval: float = 5.0,
    poll_interval: float = DEFAULT_POLL_INTERVAL,
    is_secret: Callable[[str], bool] | None = None,
    report_modify: bool = False,
) -> FallbackWatcher:
    """The daemon's watcher: the first working backend from ``prefer``, with fallbacks.

    ``is_secret`` defaults to the product's secret-name rule; files it
    matches are never read by the scans (see ``maildrift.watch.scan``).
    """
    return FallbackWatcher(
        sink,
        prefer,
        scan_interval=scan_interval,
        poll_interval=poll_interval,
        is_secret=is_secret,
        report_modify=report_modify,
    )
