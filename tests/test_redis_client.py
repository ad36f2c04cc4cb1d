"""The app's Redis client: a burst of concurrent users waits for a connection instead of failing."""
import threading

from shopapp.redis_client import MAX_CONNECTIONS, connect


def test_more_concurrent_users_than_connections_all_get_an_answer(redis_server):
    client = connect(redis_server.url)
    results, lock = [], threading.Lock()

    def use():
        value = client.blpop("test:never", timeout=0.2)  # holds its connection for 0.2 s
        with lock:
            results.append(value)

    threads = [threading.Thread(target=use) for _ in range(MAX_CONNECTIONS + 50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    client.close()
    assert len(results) == MAX_CONNECTIONS + 50
