"""Surgical, formatting-preserving edits of main.cf, master.cf and Dovecot files (pure)."""
