"""Reading the database a few chunks ahead, in a thread, while the caller works on the last one.

A release build alternates between waiting for PostgreSQL (a chunk's queries) and Python work
on the rows (records, JSON, hashes). `read_ahead` runs the queries of the next chunks in a
thread of their own, on a connection of their own, so the two overlap: PostgreSQL computes on
one core while Python builds records on the other. Waiting on a socket releases the GIL, and
psycopg builds a result's tuples in C, so the reading thread takes little from the caller.

The thread reads in one transaction, so that the server-side cursors of Django's
`QuerySet.iterator()` stream their rows as they are fetched: outside a transaction Django
declares them WITH HOLD, and PostgreSQL then computes the whole result before the first row.

The thread has its own connection, so it sees only committed data. Inside a transaction (a
test, or a caller's `atomic` block) the chunks are read in the caller's thread instead, as
they would be without this module: same chunks, same order.
"""

import queue
import threading
from collections.abc import Generator, Iterator
from typing import TypeVar

from django.db import connection, connections, transaction

Chunk = TypeVar("Chunk")

_DONE = object()
_POLL_SECONDS = 0.1


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def read_ahead(chunks: Generator[Chunk, None, None], *, depth: int = 1) -> Iterator[Chunk]:
    """The items of `chunks`, in order, produced by a thread up to `depth` items ahead.

    `chunks` is a generator that reads the database (its body runs in the thread). An error
    raised there is raised here, at the item it stopped at. If the caller stops early, the
    thread stops at its next item and its connection is closed.
    """
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        yield from chunks
        return
    ready: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def hand_over(item: object) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            with transaction.atomic():
                for chunk in chunks:
                    if not hand_over(chunk):
                        break
                else:
                    hand_over(_DONE)
        except BaseException as error:  # noqa: BLE001 - handed to the caller, raised there
            hand_over(_Failed(error))
        finally:
            try:
                chunks.close()  # a generator left early cleans up here, in the thread its cursors belong to
            finally:
                connections.close_all()  # this thread's connections only

    thread = threading.Thread(target=produce, name="release-read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            item = ready.get()
            if item is _DONE:
                return
            if isinstance(item, _Failed):
                raise item.error
            yield item
    finally:
        stop.set()
        thread.join()
