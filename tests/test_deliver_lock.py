"""One send per database: the lock row, refusing a live holder, taking over a stale one."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from datetime import timedelta

import pytest

from deliver_world import NOW
from digest.deliver.lock import LOCK_NAME, LockLost, owner_name, send_lock
from digest.errors import AlreadyRunning


def insert_holder(store, owner: str, heartbeat=NOW):
    with store.transaction():
        store.execute("INSERT INTO locks (name, owner, acquired_at, heartbeat_at) VALUES (?, ?, ?, ?)",
                      (LOCK_NAME, owner, "2026-11-25T11:00:00Z", heartbeat.strftime("%Y-%m-%dT%H:%M:%SZ")))


@pytest.fixture
def live_process():
    process = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    yield process
    process.kill()
    process.wait()


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_the_lock_is_held_by_host_and_pid_for_the_block_and_released_after(store):
    with send_lock(store, NOW):
        holder = store.locks.get(LOCK_NAME)
        assert holder.owner == owner_name() == f"{socket.gethostname()}:{os.getpid()}"
    assert store.locks.get(LOCK_NAME) is None


def test_the_lock_is_released_when_the_block_fails(store):
    with pytest.raises(RuntimeError):
        with send_lock(store, NOW):
            raise RuntimeError("boom")
    assert store.locks.get(LOCK_NAME) is None


def test_a_live_holder_makes_a_second_sender_stop_at_once_with_exit_73(store, live_process):
    owner = f"{socket.gethostname()}:{live_process.pid}"
    insert_holder(store, owner)
    with pytest.raises(AlreadyRunning) as caught:
        with send_lock(store, NOW):
            pytest.fail("must not get the lock")
    assert caught.value.exit_code == 73
    assert owner in str(caught.value) and "already running" in str(caught.value)
    assert store.locks.get(LOCK_NAME).owner == owner


def test_a_lock_left_by_a_dead_process_on_this_host_is_taken_over_with_a_warning(store):
    stale = f"{socket.gethostname()}:{dead_pid()}"
    insert_holder(store, stale)
    warnings = []
    with send_lock(store, NOW, warnings.append):
        assert store.locks.get(LOCK_NAME).owner == owner_name()
    assert len(warnings) == 1 and stale in warnings[0] and "stale" in warnings[0]


def test_another_hosts_lock_is_respected_while_its_heartbeat_is_fresh_and_taken_when_old(store):
    insert_holder(store, "elsewhere.example:4242", heartbeat=NOW - timedelta(minutes=1))
    with pytest.raises(AlreadyRunning):
        with send_lock(store, NOW):
            pass
    warnings = []
    with send_lock(store, NOW + timedelta(minutes=10), warnings.append):
        pass
    assert "elsewhere.example:4242" in warnings[0]


def test_a_sender_whose_lock_was_taken_over_stops_at_its_next_heartbeat(store):
    with send_lock(store, NOW) as lock:
        lock.beat(NOW + timedelta(seconds=30))
        assert store.locks.get(LOCK_NAME).heartbeat_at == NOW + timedelta(seconds=30)
        with store.transaction():
            store.execute("UPDATE locks SET owner = 'elsewhere.example:1' WHERE name = ?", (LOCK_NAME,))
        with pytest.raises(LockLost):
            lock.beat(NOW + timedelta(seconds=60))
    assert store.locks.get(LOCK_NAME).owner == "elsewhere.example:1"  # not ours to release
