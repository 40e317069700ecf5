"""The daemon's load cache: a model is reused only while every file reads the same."""

from __future__ import annotations

import dataclasses
import os
import shutil

import pytest

from maildrift.loadcache import LoadCache
from maildrift.loading import load_mail_config
from maildrift.wiring import build_sources

DEMO = os.path.join(os.path.dirname(os.path.dirname(__file__)), "demo")


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "root"
    shutil.copytree(DEMO, root)
    return str(root)


def _sources(root):
    return build_sources(
        root=root, host_facts=os.path.join(DEMO, "host-facts.yaml"), postfix_version="3.7"
    )


def test_unchanged_files_reuse_both_models(tree):
    """A second load of an unchanged tree returns the very same model objects."""
    sources, cache = _sources(tree), LoadCache()
    first = load_mail_config(sources, cache=cache)
    second = load_mail_config(sources, cache=cache)
    assert second.postfix[0] is first.postfix[0]
    assert second.dovecot is first.dovecot
    assert (cache.hits, cache.misses) == (2, 2)


def test_main_cf_edit_reloads_postfix_only(tree):
    """An edit of main.cf gives a new Postfix model with the new value; Dovecot is reused."""
    sources, cache = _sources(tree), LoadCache()
    first = load_mail_config(sources, cache=cache)
    with open(os.path.join(tree, "etc/postfix/main.cf"), "a", encoding="utf-8") as handle:
        handle.write("smtpd_tls_auth_only = no\n")
    second = load_mail_config(sources, cache=cache)
    assert second.postfix[0] is not first.postfix[0]
    assert second.postfix[0].expanded("smtpd_tls_auth_only").text == "no"
    assert second.dovecot is first.dovecot


def test_new_include_file_is_seen(tree):
    """A new conf.d file matched by an include glob invalidates the Dovecot model."""
    sources, cache = _sources(tree), LoadCache()
    load_mail_config(sources, cache=cache)
    with open(os.path.join(tree, "etc/dovecot/conf.d/99-late.conf"), "w", encoding="utf-8") as f:
        f.write("auth_mechanisms = plain login anonymous\n")
    mail = load_mail_config(sources, cache=cache)
    assert mail.dovecot.effective("auth_mechanisms").value == "plain login anonymous"


def test_chmod_alone_invalidates(tree):
    """Metadata is part of what was read: a chmod gives a fresh model with the new mode."""
    sources, cache = _sources(tree), LoadCache()
    first = load_mail_config(sources, cache=cache)
    main = os.path.join(tree, "etc/postfix/main.cf")
    os.chmod(main, 0o666)
    second = load_mail_config(sources, cache=cache)
    assert second.postfix[0] is not first.postfix[0]
    assert second.files.get("/etc/postfix/main.cf").mode == 0o666


def test_broken_file_error_is_cached_and_cleared(tree):
    """A broken main.cf gives the same error from the cache, and a fix is picked up."""
    sources, cache = _sources(tree), LoadCache()
    main = os.path.join(tree, "etc/postfix/main.cf")
    with open(main, encoding="utf-8") as handle:
        good = handle.read()
    with open(main, "a", encoding="utf-8") as handle:
        handle.write("this line has no equals sign\n")
    first = load_mail_config(sources, cache=cache)
    second = load_mail_config(sources, cache=cache)
    assert first.errors["postfix"].message == second.errors["postfix"].message
    assert second.errors["postfix"].line == good.count("\n") + 1
    assert cache.hits >= 1
    with open(main, "w", encoding="utf-8") as handle:
        handle.write(good)
    assert "postfix" not in load_mail_config(sources, cache=cache).errors


def test_fallback_models_are_reused_and_left_alone(tree, tmp_path):
    """A candidate cache reuses the live Dovecot model, and never writes into the live cache."""
    from maildrift.filestore import TreeReader

    sources, live = _sources(tree), LoadCache()
    judged = load_mail_config(sources, cache=live)
    temp = tmp_path / "main.cf"
    with open(os.path.join(tree, "etc/postfix/main.cf"), encoding="utf-8") as handle:
        temp.write_text(handle.read() + "smtpd_tls_auth_only = no\n", encoding="utf-8")
    reader = TreeReader(tree, candidates={"/etc/postfix/main.cf": str(temp)})
    candidate_cache = LoadCache(fallback=live)
    candidate = load_mail_config(dataclasses.replace(sources, reader=reader), cache=candidate_cache)
    assert candidate.dovecot is judged.dovecot
    assert candidate.postfix[0] is not judged.postfix[0]
    assert candidate.postfix[0].expanded("smtpd_tls_auth_only").text == "no"
    again = load_mail_config(sources, cache=live)
    assert again.postfix[0] is judged.postfix[0]  # the live entry was not replaced
    assert (live.hits, live.misses) == (2, 2)


def test_overlay_reads_memory_and_keeps_live_metadata(tree):
    """An overlaid file reads the given bytes with the live file's mode; a new one exists too."""
    from maildrift.filestore import TreeReader

    main = os.path.join(tree, "etc/postfix/main.cf")
    os.chmod(main, 0o640)
    reader = TreeReader(
        tree, overlay={"/etc/postfix/main.cf": b"x = 1\n", "/etc/postfix/new.cf": b"y\n"}
    )
    data = reader.read("/etc/postfix/main.cf")
    assert (data.data, data.mode) == (b"x = 1\n", 0o640)
    assert reader.exists("/etc/postfix/new.cf") and reader.lexists("/etc/postfix/new.cf")
    assert reader.read("/etc/postfix/new.cf").data == b"y\n"
    assert "/etc/postfix/new.cf" in reader.glob("/etc/postfix/*.cf")
    with open(main, "rb") as handle:
        assert handle.read() != b"x = 1\n"  # nothing was written
