"""Which directories to watch and which events matter, from the loaded model (pure).

Relevance is decided by the model's own file set and include globs, not by a
list of editor droppings: a temp file renamed over main.cf is an event on
main.cf, and every file under a configuration directory counts, since the
permission rules judge them all.
"""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass, field

__all__ = ["WatchPlan", "plan_watches"]


@dataclass(frozen=True)
class WatchPlan:
    #: Configuration directories: every event below them is relevant.
    roots: frozenset[str] = frozenset()
    #: Other directories holding included files or include globs.
    include_dirs: frozenset[str] = frozenset()
    #: Parents of the roots, watched so that a deleted and recreated root is seen.
    parents: frozenset[str] = frozenset()
    files: frozenset[str] = frozenset()
    globs: tuple[str, ...] = field(default_factory=tuple)
    postfix_roots: frozenset[str] = frozenset()

    def component(self, path: str) -> str:
        """postfix or dovecot: which component an event's path belongs to."""
        path = os.path.normpath(path)
        if any(path == r or path.startswith(r + "/") for r in self.postfix_roots):
            return "postfix"
        return "dovecot"

    @property
    def directories(self) -> frozenset[str]:
        return self.roots | self.include_dirs | self.parents

    def relevant(self, path: str) -> bool:
        path = os.path.normpath(path)
        if path in self.files or path in self.roots:
            return True
        if any(path.startswith(root + "/") for root in self.roots):
            return True
        return any(fnmatch.fnmatchcase(path, pattern) for pattern in self.globs)


def plan_watches(mail, postfix_dirs, dovecot_configs, host_path) -> WatchPlan:
    """The plan for one loaded configuration; ``host_path`` maps configured paths."""
    postfix_roots = {os.path.normpath(host_path(d)) for d in postfix_dirs}
    postfix_roots |= {os.path.normpath(host_path(c.config_directory)) for c in mail.postfix}
    roots = set(postfix_roots)
    roots |= {os.path.dirname(os.path.normpath(host_path(c))) for c in dovecot_configs}
    files: set[str] = set()
    globs: list[str] = []
    for config in mail.postfix:
        roots.add(os.path.normpath(host_path(config.config_directory)))
        files |= {os.path.normpath(f.read_path) for f in config.files.values()}
    if mail.dovecot is not None:
        for entry in mail.dovecot.files:
            files.add(os.path.normpath(entry.read_path or host_path(entry.path)))
        for include in mail.dovecot.include_globs:
            globs.append(os.path.normpath(host_path(include.pattern)))
    # Certificates, keys and lookup tables the policy inspects live elsewhere too.
    files |= {os.path.normpath(host_path(p)) for p in mail.files.files}
    include_dirs = {os.path.dirname(f) for f in files}
    include_dirs |= {os.path.dirname(g) for g in globs if "*" not in os.path.dirname(g)}
    include_dirs = {
        d for d in include_dirs if not any(d == r or d.startswith(r + "/") for r in roots)
    }
    # Subdirectories of a root holding files are watched too (conf.d, sasl/); the
    # snapshot already walked them, so no second walk on every evaluation.
    subdirs = {
        os.path.dirname(os.path.normpath(host_path(path)))
        for paths in mail.files.config_files.values()
        for path in paths
    }
    parents = {os.path.dirname(r) for r in roots}
    return WatchPlan(
        roots=frozenset(roots),
        include_dirs=frozenset(include_dirs | subdirs),
        parents=frozenset(parents - roots),
        files=frozenset(files),
        globs=tuple(globs),
        postfix_roots=frozenset(postfix_roots),
    )
