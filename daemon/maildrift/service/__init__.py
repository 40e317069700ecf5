"""``maildrift run``: the daemon that watches, judges, exports and notifies."""
