"""Locks: see the Store docstring."""

from __future__ import annotations


class Locks:
    def __init__(self, store):
        self.store = store
