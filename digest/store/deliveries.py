"""Deliveries: see the Store docstring."""

from __future__ import annotations


class Deliveries:
    def __init__(self, store):
        self.store = store
