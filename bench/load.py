"""Load test in production mode: gunicorn + whitenoise, DEBUG off, 20 concurrent users
browsing the calls and charts pages for 60 s with wrk, on loopback only.

    .venv/bin/python bench/load.py [--seconds 60] [--connections 20]

Uses the store bench_calls.py builds (30 days × 100,000 calls); run that first. Needs
Debian's wrk (apt-get install wrk).
"""

import argparse
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

LUA = r"""
local paths = {}
local cookie = os.getenv("LOAD_COOKIE")
for line in io.lines(os.getenv("LOAD_PATHS")) do paths[#paths + 1] = line end
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", paths[(n % #paths) + 1], {["Cookie"] = cookie})
end
done = function(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format("RESULT %d %d %d %d %.1f %.1f %.1f %.1f\n", summary.requests,
    summary.status or 0, errors.connect + errors.read + errors.write + errors.timeout, errors.status,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000))
end
"""


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--connections", type=int, default=20)
    parser.add_argument("--workers", type=int, default=3)
    args = parser.parse_args(argv)
    if not shutil.which("wrk"):
        raise SystemExit("wrk is missing: apt-get install wrk")
    database = common.DATA / "bench_calls.sqlite3"
    if not database.exists():
        raise SystemExit("run bench/bench_calls.py first: it builds the store this test reads")

    local = json.loads((common.ROOT / ".local-secrets.json").read_text())
    port = common.free_port()
    env = {**os.environ, "DEBUG": "false", "SECRET_KEY": secrets.token_urlsafe(50),
           "TOKEN_ENCRYPTION_KEYS": local["TOKEN_ENCRYPTION_KEYS"], "ALLOWED_HOSTS": "127.0.0.1",
           "SECURE_SSL_REDIRECT": "false", "SECURE_COOKIES": "false", "SQLITE_PATH": str(database),
           "LOG_LEVEL": "WARNING", "AXES_FAILURE_LIMIT": "1000"}
    env.pop("DATABASE_URL", None)
    python = sys.executable
    subprocess.run([python, "manage.py", "migrate", "--noinput", "-v0"], cwd=common.ROOT, env=env, check=True)
    subprocess.run([python, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=common.ROOT, env=env, check=True)
    password = secrets.token_urlsafe(12)
    subprocess.run([python, "manage.py", "shell", "-c",
                    "from django.contrib.auth import get_user_model as g; u=g().objects.get(username='bench'); "
                    f"u.set_password('{password}'); u.save()"], cwd=common.ROOT, env=env, check=True)
    server = subprocess.Popen([python, "-m", "gunicorn", "dashboard.wsgi", "--bind", f"127.0.0.1:{port}",
                               "--workers", str(args.workers), "--threads", "2", "--log-level", "warning"],
                              cwd=common.ROOT, env=env)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                requests.get(base + "/accounts/login/", timeout=5)
                break
            except requests.RequestException:
                time.sleep(0.1)
        session = requests.Session()
        login = session.get(base + "/accounts/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login.text).group(1)
        session.post(base + "/accounts/login/", data={"username": "bench", "password": password,
                                                      "csrfmiddlewaretoken": token},
                     headers={"Referer": base + "/accounts/login/"})
        assert "sessionid" in session.cookies, "login failed"
        calls = session.get(base + "/calls/?date_from=2026-03-31")
        account = re.search(r'<option value="(\d+)" selected', calls.text).group(1)
        chart_js = re.search(r'src="(/static/vendor/[^"]+\.js)"',
                             session.get(base + "/charts/?date_from=2026-03-02&date_to=2026-03-31").text)
        paths = [
            f"/calls/?account={account}&date_from=2026-03-31",
            f"/calls/?account={account}&date_from=2026-03-30&caller=138&caller_match=begins&sort=-fee",
            f"/calls/?account={account}&date_from=2026-03-29&sort=start&page=40",
            f"/calls/?account={account}&date_from=2026-03-28&callee=8888",
            f"/charts/?account={account}&date_from=2026-03-02&date_to=2026-03-31",
            f"/charts/?account={account}&date_from=2026-03-25&date_to=2026-03-31",
        ] + ([chart_js.group(1)] if chart_js else [])
        with tempfile.TemporaryDirectory() as folder:
            script, path_file = Path(folder, "load.lua"), Path(folder, "paths.txt")
            script.write_text(LUA)
            path_file.write_text("\n".join(paths) + "\n")
            cookie = "; ".join(f"{k}={v}" for k, v in session.cookies.items())
            result = subprocess.run(
                ["wrk", "-t2", f"-c{args.connections}", f"-d{args.seconds}s", "--timeout", "10s",
                 "-s", str(script), base],
                env={**os.environ, "LOAD_COOKIE": cookie, "LOAD_PATHS": str(path_file)},
                capture_output=True, text=True, check=True)
        print(result.stdout)
        line = next(line for line in result.stdout.splitlines() if line.startswith("RESULT"))
        requests_done, _status, socket_errors, bad_status, p50, p95, p99, worst = line.split()[1:]
        common.print_table(
            f"Load: {args.connections} concurrent users, {args.seconds} s, gunicorn {args.workers} workers, "
            f"DEBUG off — {common.machine()}",
            ["requests", "req/s", "errors (socket + non-2xx/3xx)", "median ms", "p95 ms", "p99 ms", "max ms"],
            [[requests_done, f"{int(requests_done) / args.seconds:.1f}", f"{socket_errors} + {bad_status}",
              p50, p95, p99, worst]])
        return 1 if int(socket_errors) or int(bad_status) else 0
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main())
