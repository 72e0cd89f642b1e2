"""Work the app does after it has answered: making and mailing links that a request for
them asks for, and mailing notices. One queue and one worker thread per app
(`app.extensions["keystead.outbox"]`), so an answer never waits for an SMTP server and
takes the same time whatever the work turns out to be (a reset requested for an unknown
address and for a known one answer alike).

Each job runs in an app context with its own database connection. A job that fails is
logged and dropped; it never stops the jobs after it. The worker ends when it has been
idle for a while and starts again with the next job. `join()` waits until every job
queued so far is done (tests, and the process's exit).
"""
from __future__ import annotations

import atexit
import logging
import queue
import threading
import time
import weakref

log = logging.getLogger("keystead")

IDLE_SECONDS = 5.0
AFTER_ANSWER_SECONDS = 0.01  # far longer than writing an answer out takes
EXIT_WAIT_SECONDS = 20.0  # at exit, finish mail in flight (one SMTP timeout and a bit)


class Outbox:
    def __init__(self, app):
        self._app = weakref.ref(app)
        self._queue: queue.Queue = queue.Queue()
        self._lock = threading.Lock()
        self._worker: threading.Thread | None = None
        app.teardown_request(self._release)
        outbox = weakref.ref(self)
        atexit.register(lambda: outbox() is not None and outbox().join(EXIT_WAIT_SECONDS))

    def put(self, job, *args) -> None:
        """Run `job(*args)` in the worker thread: within a request, a moment after the
        request is over, once its answer is on its way (a job running meanwhile would
        compete with the answer for the interpreter, and its time would show in the
        answer's); otherwise now."""
        from flask import g, has_request_context
        if has_request_context():
            g.setdefault("keystead_outbox_later", []).append((job, args))
            return
        self._start(job, args, 0.0)

    def _release(self, exc=None) -> None:
        """teardown_request: the request is over; its jobs start after AFTER_ANSWER_SECONDS."""
        from flask import g
        later = g.pop("keystead_outbox_later", ())
        not_before = time.monotonic() + AFTER_ANSWER_SECONDS
        for job, args in later:
            self._start(job, args, not_before)

    def _start(self, job, args, not_before: float) -> None:
        with self._lock:
            self._queue.put((job, args, not_before))
            if self._worker is None or not self._worker.is_alive():  # (a fork keeps no threads)
                self._worker = threading.Thread(target=self._work, daemon=True, name="keystead-outbox")
                self._worker.start()

    def join(self, timeout: float | None = 30.0) -> bool:
        """Wait until every job queued so far is done; False when `timeout` ran out first."""
        done = self._queue.all_tasks_done
        with done:
            return done.wait_for(lambda: not self._queue.unfinished_tasks, timeout)

    def _work(self) -> None:
        while True:
            try:
                job, args, not_before = self._queue.get(timeout=IDLE_SECONDS)
            except queue.Empty:
                with self._lock:  # put() starts a new worker only after this one has gone
                    if self._queue.empty():
                        self._worker = None
                        return
                continue
            try:
                wait = not_before - time.monotonic()
                if wait > 0:
                    time.sleep(wait)  # sleeping holds no lock: the answer goes out meanwhile
                self._run(job, args)
            finally:
                self._queue.task_done()

    def _run(self, job, args) -> None:
        app = self._app()
        if app is None:
            return
        db = app.extensions["keystead.db"]
        try:
            with app.app_context():
                with db.connection_context():
                    job(*args)
        except Exception as e:  # one failed job is logged, never lost silently, never blocks the rest
            from .db import database_failure, describe_failure, forget_dead_connections
            kind = database_failure(e)
            if kind is None:
                log.exception("background job %s failed", getattr(job, "__name__", job))
                return
            # An outage is one line, as for requests (app/db.py), never a traceback.
            log.warning("background job %s failed: database %s: %s", getattr(job, "__name__", job),
                        kind, describe_failure(e, db))
            if kind == "unavailable":
                try:
                    forget_dead_connections(db)
                except Exception:  # the pool is rebuilt by the next request anyway
                    pass


def outbox():
    """The current app's outbox."""
    from flask import current_app
    return current_app.extensions["keystead.outbox"]
