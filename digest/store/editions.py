"""Editions: see the Store docstring."""

from __future__ import annotations


class Editions:
    def __init__(self, store):
        self.store = store
