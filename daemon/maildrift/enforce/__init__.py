"""Enforce mode: last-known-good state, quarantine, safe swaps, reverts and reloads."""
