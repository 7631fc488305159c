"""A TCP proxy on 127.0.0.1 in front of redis-server, with a gate on replies.

Tests put it between the app's Redis client and the server to force what a
slow or broken network does, every time: ``hold()`` keeps Redis's replies
(the commands still reach the server and run), ``release()`` lets them
through, ``cut()`` closes every connection and refuses new ones until
``mend()``, ``sever()`` closes every connection and accepts new ones (a
reply on its way is lost), and ``drop_next()`` closes the connection that
sends the next command, which never reaches Redis (what a pooled connection
that Redis closed, in a restart, does when it is next used).
"""

from __future__ import annotations

import asyncio
import contextlib


class Proxy:
    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self.flowing = asyncio.Event()
        self.flowing.set()
        #: set when a reply arrives from Redis while replies are held
        self.reply_waiting = asyncio.Event()
        self.down = False
        self.dropping = False
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    def hold(self) -> None:
        self.reply_waiting.clear()
        self.flowing.clear()

    def release(self) -> None:
        self.flowing.set()

    def cut(self) -> None:
        """Close every connection; new ones are closed at once."""
        self.down = True
        for writer in list(self._writers):
            writer.close()

    def mend(self) -> None:
        self.down = False

    def sever(self) -> None:
        """Close every connection; new ones are served."""
        for writer in list(self._writers):
            writer.close()

    def drop_next(self) -> None:
        """The next command sent is not passed on, and its connection closes."""
        self.dropping = True

    async def close(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _accept(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        if self.down:
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(
                "127.0.0.1", self.target_port
            )
        except OSError:
            writer.close()
            return
        self._writers.update((writer, up_writer))
        for task in (
            asyncio.ensure_future(self._pipe(reader, up_writer, writer, gated=False)),
            asyncio.ensure_future(self._pipe(up_reader, writer, up_writer, gated=True)),
        ):
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pipe(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        peer: asyncio.StreamWriter,
        gated: bool,
    ) -> None:
        """``reader`` to ``writer``; ``gated``: Redis's replies (else the
        client's commands, and ``peer`` is the client's side).
        """
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                if gated and not self.flowing.is_set():
                    self.reply_waiting.set()
                    await self.flowing.wait()
                if self.down:
                    break
                if not gated and self.dropping:
                    self.dropping = False
                    peer.close()
                    break
                writer.write(data)
                await writer.drain()
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            self._writers.discard(writer)
            with contextlib.suppress(Exception):
                writer.close()
