"""gunicorn settings for Tsudoi in production: `gunicorn --config deploy/gunicorn.conf.py wsgi:app`.

Sync workers behind a buffering nginx (deploy/nginx.conf). A sync worker serves one request at a time, so a
client that sends its body slowly would hold a worker for as long as it likes (in the outside review, three slow
connections stalled every worker for 33 s). nginx reads the whole request before passing it on
(`proxy_request_buffering on`) and takes the whole response at once (`proxy_buffering on`), so a worker only ever
talks to nginx over loopback at full speed: its time is the app's own time. Tsudoi's requests are short and
database-bound, with no streaming, long polling or websockets, which is what sync workers are for; threads or
async workers would add no throughput that more processes do not give, and each process keeps its own small
connection pool (pool_pre_ping) to PostgreSQL.

Count: 2 x CPU cores + 1 (gunicorn's rule of thumb for I/O-waiting workers), or WEB_CONCURRENCY. Each worker
holds up to 5 + 10 PostgreSQL connections (SQLAlchemy's default pool), so keep workers x 15 x app servers below
PostgreSQL's max_connections. Rate limits are shared through Redis (REDIS_URL): the app refuses to start in
production without it.
"""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")  # nginx alone talks to it
worker_class = "sync"
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
# A request that takes longer than this is killed (the worker restarts); nginx's proxy_read_timeout is longer.
timeout = 30
graceful_timeout = 30  # on SIGTERM/HUP, let requests in progress finish
keepalive = 2  # nginx keeps its own connections to clients; to us it opens new ones cheaply
# Recycle each worker after this many requests (with jitter, so they do not all restart at once).
max_requests = 2000
max_requests_jitter = 200
# Tighter than gunicorn's defaults: nobody needs 100 headers or 8 KB request lines on this site.
limit_request_line = 4094
limit_request_fields = 50
limit_request_field_size = 8190
# The app reads X-Forwarded-* itself (ProxyFix, PROXY_FIX_X_FOR); gunicorn trusts them only from nginx.
forwarded_allow_ips = "127.0.0.1"
worker_tmp_dir = "/dev/shm"  # noqa: S108 - heartbeat files on tmpfs: a slow disk must not make workers look dead
accesslog = "-"  # to the journal (systemd)
errorlog = "-"
proc_name = "tsudoi"
