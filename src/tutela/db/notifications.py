"""PostgreSQL LISTEN in a thread of its own: `ChannelListener` calls `on_notify()` for each
notification on a channel (and once at every (re)connection, when some may have been missed).

It holds one connection of the engine's pool for its lifetime (in autocommit), waits on it
`wait_s` at a time to see whether it should stop, and after a lost connection tries again every
`retry_s`; the connection is dropped rather than handed back to the pool, so no pooled
connection stays subscribed. On SQLite there is nothing to listen to: `start()` does nothing.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from tutela.db.database import Database

log = logging.getLogger("tutela.db")


class ChannelListener:
    def __init__(
        self,
        database: Database,
        channel: str,
        on_notify: Callable[[], None],
        *,
        wait_s: float = 0.5,
        retry_s: float = 2.0,
    ) -> None:
        if not channel.isidentifier():
            raise ValueError(f"channel name {channel!r} is not a plain identifier")
        self._database = database
        self._channel = channel
        self._on_notify = on_notify
        self._wait_s = wait_s
        self._retry_s = retry_s
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.listening = threading.Event()  # set while subscribed (tests wait for it)

    @property
    def active(self) -> bool:
        return self._database.dialect == "postgresql"

    def start(self) -> None:
        if not self.active:
            return
        self._thread = threading.Thread(target=self._run, name=f"listen-{self._channel}")
        self._thread.daemon = True
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        failing = False
        while not self._stopping.is_set():
            try:
                self._listen()
            except Exception as error:  # the database restarting: the driver's own errors too
                if not failing:
                    log.warning(
                        "LISTEN %s: connection lost (%s); polling meanwhile, retrying",
                        self._channel,
                        type(error).__name__,
                    )
                failing = True
            else:
                failing = False
            finally:
                self.listening.clear()
            self._stopping.wait(self._retry_s)

    def _listen(self) -> None:
        connection = self._database.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            connection.exec_driver_sql(f"LISTEN {self._channel}")
            driver = connection.connection.dbapi_connection
            notifies = getattr(driver, "notifies", None)
            if notifies is None:
                raise RuntimeError("the PostgreSQL driver cannot wait for notifications")
            self.listening.set()
            self._on_notify()  # whatever was committed before we listened
            while not self._stopping.is_set():
                # At most one at a time: one refresh reads whatever committed before it.
                for _ in notifies(timeout=self._wait_s, stop_after=1):
                    self._on_notify()
        finally:
            connection.invalidate()  # never back into the pool subscribed
            connection.close()
