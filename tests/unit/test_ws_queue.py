"""A WebSocket client that stops reading never blocks the sender: its
queue stays bounded and drops the oldest messages."""

from toru.live import QUEUE_SIZE, Connection


def test_full_queue_drops_the_oldest_and_never_blocks():
    conn = Connection(websocket=None, user={"username": "t"})  # no writer: nothing drains
    for i in range(QUEUE_SIZE + 250):
        conn.send({"n": i})
    assert conn.outbox.qsize() == QUEUE_SIZE
    assert conn.dropped == 250
    assert conn.outbox.get_nowait() == {"n": 250}


def test_close_is_queued_even_when_full():
    conn = Connection(websocket=None, user={"username": "t"})
    for i in range(QUEUE_SIZE):
        conn.send({"n": i})
    conn.close()
    items = [conn.outbox.get_nowait() for _ in range(conn.outbox.qsize())]
    assert items[-1] is None and conn.closed
