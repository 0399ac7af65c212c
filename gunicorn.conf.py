"""gunicorn settings, overridable from the environment."""

import multiprocessing
import os

bind = os.environ.get("BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
loglevel = os.environ.get("GUNICORN_LOGLEVEL", "info")
# The path of a request can carry a patient's identifier, a query string a code: log only
# method, status, size and duration. The logger class redacts the error log too (worker
# timeouts, "Error handling request …", invalid request lines) and withholds the path,
# query, referer and credential atoms whatever format an operator sets (docs/security.md).
accesslog = os.environ.get("GUNICORN_ACCESSLOG", "-")
access_log_format = '%(h)s %(t)s "%(m)s" %(s)s %(B)s %(M)sms'
logger_class = "eprescription.logs.GunicornLogger"
