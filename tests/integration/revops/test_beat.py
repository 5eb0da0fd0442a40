"""However many beat processes run, each periodic run is sent once (revops/beat.py)."""

import itertools
import re
import subprocess
import sys
import time
import uuid

import pytest
import redis
from django.conf import settings

from revops.beat import BEAT_SCHEDULE, SingleBeatScheduler
from revops.celery import app
from tests.conftest import BASE_DIR, subprocess_env


@pytest.fixture
def beat_settings(settings):
    """Lock and run records under keys of this test alone, with a short lock."""
    prefix = f"test-beat-{uuid.uuid4().hex[:8]}:"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {
        **settings.CELERY_BROKER_TRANSPORT_OPTIONS,
        "global_keyprefix": prefix,
    }
    settings.BEAT_LOCK_SECONDS = 0.6
    yield prefix
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)


def beat(name, sent, every=1.0):
    """A scheduler whose one entry runs every `every` seconds; sends are recorded."""
    scheduler = SingleBeatScheduler(app, lazy=True)
    scheduler.data = {}
    scheduler.update_from_dict({"tick": {"task": "revops.tasks.ping", "schedule": every}})

    def record(entry, producer=None, advance=True, **kwargs):
        sent.append((name, time.monotonic()))

    scheduler.apply_async = record
    return scheduler


def run(schedulers, seconds):
    """Tick each scheduler when it asks to be ticked, for `seconds`."""
    due = dict.fromkeys(schedulers, 0.0)
    end = time.monotonic() + seconds
    while (now := time.monotonic()) < end:
        for scheduler, at in due.items():
            if at <= now:
                due[scheduler] = now + scheduler.tick()
        time.sleep(0.01)


def test_of_two_beats_only_the_lock_holder_sends(beat_settings):
    sent = []
    first, second = beat("first", sent), beat("second", sent)
    run([first, second], 3.6)
    senders = {name for name, _ in sent}
    assert len(senders) == 1, sent
    assert [first.leading, second.leading].count(True) == 1
    # Once a second, never twice in one second.
    assert 3 <= len(sent) <= 4
    gaps = [later - earlier for (_, earlier), (_, later) in itertools.pairwise(sent)]
    assert min(gaps) > 0.9


def test_a_beat_that_takes_over_goes_on_from_the_last_run(beat_settings):
    sent = []
    leader, standby = beat("leader", sent, every=2.0), beat("standby", sent, every=2.0)
    run([leader, standby], 2.3)
    assert [name for name, _ in sent] == ["leader"]
    # The leader dies without a word: its lock expires, the standby takes it.
    last_run = sent[-1][1]
    run([standby], 2.5)
    assert standby.leading
    taken_over = [at for name, at in sent if name == "standby"]
    # Its own clock started with the leader's: without the shared record it would have
    # sent at once on taking over, within a second of the leader's run.
    assert taken_over and taken_over[0] - last_run > 1.9


def test_a_beat_that_loses_its_lock_stops_sending(beat_settings):
    sent = []
    leader = beat("leader", sent)
    run([leader], 1.2)
    assert leader.leading and sent
    # Someone else holds the lock now (the leader stalled past its expiry).
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    client.set(leader.lock_key, "another beat", px=60_000)
    before = len(sent)
    run([leader], 2.2)
    assert not leader.leading
    assert len(sent) == before


def test_the_periodic_schedule_is_the_apps():
    assert app.conf.beat_scheduler == "revops.beat:SingleBeatScheduler"
    assert set(app.conf.beat_schedule) == set(BEAT_SCHEDULE)


def _start_beat(env):
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "revops", "beat", "-l", "INFO"],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _wait_for(process, pattern, seconds):
    """Lines of the process's output until one matches `pattern` (or the time is up)."""
    lines = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if re.search(pattern, line):
            return True, lines
    return False, lines


@pytest.mark.django_db
def test_two_beat_processes_one_sends_and_the_other_takes_over_when_it_is_killed():
    env = {
        **subprocess_env(),
        "CELERY_KEY_PREFIX": f"test-beat-{uuid.uuid4().hex[:8]}:",
        "BEAT_LOCK_SECONDS": "2",
    }
    first = _start_beat(env)
    try:
        leads, lines = _wait_for(first, "holds the lock", 30)
        assert leads, "".join(lines)
        second = _start_beat(env)
        try:
            started, lines = _wait_for(second, "beat: Starting", 30)
            assert started, "".join(lines)
            time.sleep(3)
            assert second.poll() is None
            first.kill()
            took_over, lines = _wait_for(second, "holds the lock", 15)
            assert took_over, "".join(lines)
            assert not any("holds the lock" in line for line in lines[:-1])
        finally:
            second.kill()
            second.wait(10)
    finally:
        first.kill()
        first.wait(10)
