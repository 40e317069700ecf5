"""The last-known-good store: restarts, corruption, secrets, cheap unchanged records, gc."""

from __future__ import annotations

import hashlib
import os
import stat
from datetime import datetime, timezone

import pytest

from maildrift.enforce.lkg import FileState, LkgError, LkgStore

MAIN = "/etc/postfix/main.cf"
MASTER = "/etc/postfix/master.cf"
KEY_PATH = "/etc/pki/tls/private/postfix.key"
MAIN_CF = b"smtpd_tls_auth_only = yes\n"
MASTER_CF = b"smtp inet n - n - - smtpd\n"
KEY = b"-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n"
RULE = ("postfix-tls-auth-only", "postfix:default")
NOW = datetime(2026, 11, 28, 10, 15, tzinfo=timezone.utc)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def state(path: str, data: bytes | None = None, **kw) -> FileState:
    fields = {"exists": True, "mode": 0o644, "uid": 0, "gid": 0}
    fields.update(kw)
    return FileState(path, sha256=None if data is None else sha(data), **fields)


def store_at(tmp_path) -> LkgStore:
    return LkgStore(str(tmp_path / "state"), clock=lambda: NOW)


def mode_of(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def recorded(tmp_path) -> LkgStore:
    """A store holding main.cf and master.cf for RULE, and main.cf for a second rule."""
    store = store_at(tmp_path)
    assert store.load() == []
    files = {MAIN: state(MAIN, MAIN_CF), MASTER: state(MASTER, MASTER_CF)}
    assert store.record(RULE, files, {MAIN: MAIN_CF, MASTER: MASTER_CF})
    assert store.record(("other", "postfix:default"), {MAIN: state(MAIN)}, {MAIN: MAIN_CF})
    return store


def test_round_trip_across_restart(recorded, tmp_path):
    """A new store instance over the same state dir sees the same states and blobs."""
    again = store_at(tmp_path)
    assert again.load() == []
    assert again.rule_keys() == [("other", "postfix:default"), RULE]
    assert again.get(RULE) == recorded.get(RULE)
    assert again.get(RULE)[MAIN].sha256 == sha(MAIN_CF)
    assert again.content(sha(MASTER_CF)) == MASTER_CF
    assert again.recorded(RULE) == NOW.isoformat()
    assert again.get(("never", "passed")) is None


def test_state_files_are_private(recorded, tmp_path):
    """The state dir and lkg dirs are 0700, the index and blobs 0600."""
    for directory in ("state", "state/lkg", "state/lkg/blobs"):
        assert mode_of(tmp_path / directory) == 0o700
    assert mode_of(recorded.index_path) == 0o600
    for name in os.listdir(recorded.blobs):
        assert mode_of(os.path.join(recorded.blobs, name)) == 0o600


def test_corrupt_blob_drops_its_entries(recorded, tmp_path):
    """A blob that does not match its name is moved aside; entries using it are dropped."""
    blob = os.path.join(recorded.blobs, sha(MASTER_CF))
    with open(blob, "wb") as handle:
        handle.write(b"smtp inet n - n - - smtpd -o tampered\n")
    again = store_at(tmp_path)
    problems = again.load()
    assert len(problems) == 1
    assert RULE[0] in problems[0] and MASTER in problems[0] and "corrupt" in problems[0]
    assert again.get(RULE) is None
    assert again.get(("other", "postfix:default")) is not None
    assert not os.path.exists(blob)
    assert any(n.startswith(sha(MASTER_CF) + ".corrupt-") for n in os.listdir(recorded.blobs))
    with pytest.raises(LkgError, match="blob"):
        again.content(sha(MASTER_CF))
    # The drop was written back: the next start has nothing to report.
    assert store_at(tmp_path).load() == []


def test_missing_blob_drops_its_entries(recorded, tmp_path):
    """A blob that vanished makes its entries unusable, reported by load."""
    os.unlink(os.path.join(recorded.blobs, sha(MAIN_CF)))
    again = store_at(tmp_path)
    problems = again.load()
    assert len(problems) == 2 and all("missing" in p for p in problems)
    assert again.rule_keys() == []


@pytest.mark.parametrize("garbage", [b"{not json", b'{"version": 1, "entries": [{"rule": 1}]}'])
def test_corrupt_index_is_moved_aside(recorded, tmp_path, garbage):
    """An unreadable index is kept aside, reported, and the store starts empty and usable."""
    with open(recorded.index_path, "wb") as handle:
        handle.write(garbage)
    again = store_at(tmp_path)
    problems = again.load()
    assert len(problems) == 1 and "moved to" in problems[0]
    aside = [n for n in os.listdir(again.directory) if n.startswith("index.json.corrupt-")]
    assert len(aside) == 1
    with open(os.path.join(again.directory, aside[0]), "rb") as handle:
        assert handle.read() == garbage
    assert again.rule_keys() == []
    assert again.record(RULE, {MAIN: state(MAIN)}, {MAIN: MAIN_CF})
    assert store_at(tmp_path).load() == []


def test_secret_stores_no_blob(tmp_path):
    """A secret file is kept by metadata only, even when its bytes are handed in."""
    store = store_at(tmp_path)
    files = {MAIN: state(MAIN), KEY_PATH: state(KEY_PATH, KEY, secret=True, mode=0o600)}
    store.record(RULE, files, {MAIN: MAIN_CF, KEY_PATH: KEY})
    kept = store.get(RULE)[KEY_PATH]
    assert kept.sha256 is None and kept.secret and kept.mode == 0o600
    assert os.listdir(store.blobs) == [sha(MAIN_CF)]
    for root, _, names in os.walk(tmp_path / "state"):
        for name in names:
            with open(os.path.join(root, name), "rb") as handle:
                assert b"MIIEvQ" not in handle.read()


def test_missing_file_state(tmp_path):
    """A file that did not exist when the rule passed is recorded as missing, no blob."""
    store = store_at(tmp_path)
    store.record(RULE, {MAIN: FileState(MAIN, exists=False)}, {})
    assert store.get(RULE)[MAIN] == FileState(MAIN, exists=False)
    assert not os.path.exists(store.blobs)


def test_unchanged_record_does_not_rewrite(recorded):
    """Recording the same state again writes nothing: same index inode and mtime."""
    before = os.stat(recorded.index_path)
    files = {MAIN: state(MAIN, MAIN_CF), MASTER: state(MASTER)}
    assert not recorded.record(RULE, files, {MAIN: MAIN_CF, MASTER: MASTER_CF})
    after = os.stat(recorded.index_path)
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    changed = {MAIN: state(MAIN, MAIN_CF, mode=0o640), MASTER: state(MASTER)}
    assert recorded.record(RULE, changed, {MAIN: MAIN_CF, MASTER: MASTER_CF})
    assert os.stat(recorded.index_path).st_ino != before.st_ino


def test_bad_content_is_refused(tmp_path):
    """A hash that does not match the bytes, or bytes missing, never make a blob."""
    store = store_at(tmp_path)
    with pytest.raises(ValueError, match="not matching"):
        store.record(RULE, {MAIN: state(MAIN, MAIN_CF)}, {MAIN: b"other\n"})
    with pytest.raises(ValueError, match="no content"):
        store.record(RULE, {MAIN: state(MAIN)}, {})
    assert store.get(RULE) is None


def test_gc_removes_unreferenced_blobs(recorded):
    """gc deletes blobs and temp debris no entry needs, and keeps the rest."""
    newer = b"smtpd_tls_auth_only = yes\nsmtpd_tls_security_level = encrypt\n"
    for key in recorded.rule_keys():
        recorded.record(key, {MAIN: state(MAIN)}, {MAIN: newer})
    debris = os.path.join(recorded.blobs, ".abc.tmp-0123456789ab")
    open(debris, "wb").close()
    assert sorted(recorded.gc()) == sorted([".abc.tmp-0123456789ab", sha(MAIN_CF), sha(MASTER_CF)])
    assert os.listdir(recorded.blobs) == [sha(newer)]
    assert recorded.forget(RULE) and not recorded.forget(RULE)
    assert recorded.gc() == []
    assert recorded.forget(("other", "postfix:default"))
    assert recorded.gc() == [sha(newer)]


def test_record_many_writes_the_index_once(tmp_path):
    """Several passing rules on one tree: one index write, and none when nothing changed."""
    from maildrift.enforce.lkg import FileState, LkgStore

    store = LkgStore(str(tmp_path / "state"))
    files = {"/etc/postfix/main.cf": FileState("/etc/postfix/main.cf", True, None, 0o644, 0, 0)}
    contents = {"/etc/postfix/main.cf": b"myhostname = a\n"}
    keys = [("rule-a", "postfix:main"), ("rule-b", "postfix:main")]
    assert store.record_many(keys, files, contents) is True
    index = os.stat(store.index_path)
    assert store.record_many(keys, files, contents) is False
    assert os.stat(store.index_path).st_ino == index.st_ino
    reopened = LkgStore(str(tmp_path / "state"))
    reopened.load()
    assert set(reopened.rule_keys()) == set(keys)


def test_deferred_records_reach_disk_on_flush(tmp_path):
    """A deferred record is served from memory and written, blob before index, by flush()."""
    from maildrift.enforce.lkg import FileState, LkgStore

    store = LkgStore(str(tmp_path / "state"))
    files = {"/etc/postfix/main.cf": FileState("/etc/postfix/main.cf", True, None, 0o644, 0, 0)}
    data = b"myhostname = deferred\n"
    assert store.record_many([("r", "s")], files, {"/etc/postfix/main.cf": data}, defer=True)
    sha = store.get(("r", "s"))["/etc/postfix/main.cf"].sha256
    assert store.content(sha) == data
    assert not os.path.exists(store.index_path)
    assert store.flush() is True and store.flush() is False
    reopened = LkgStore(str(tmp_path / "state"))
    assert reopened.load() == []
    assert reopened.content(sha) == data
