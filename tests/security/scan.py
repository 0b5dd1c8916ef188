"""The pieces of the dynamic security scan: a live stack on a throwaway database, and wapiti against it.

The stack is what production runs: gunicorn with `DJANGO_ENV=production` (secure cookies, HSTS, no
DEBUG) behind TLS (a self-signed certificate, so the HTTPS-only settings behave as they do behind the
reverse proxy), PostgreSQL and Redis. Its database is created from the test database URL with a
`_live_scan` suffix, filled with `seed_demo` and dropped afterwards: the scanner writes a lot (messages,
call-backs, sites) and none of it may land in a database anyone keeps.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import secrets
import shutil
import socket
import socketserver
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import requests
from cryptography.fernet import Fernet

BASE_DIR = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
TRIAGE_FILE = Path(__file__).with_name("triage.json")
SECURITY_DOC = BASE_DIR / "docs" / "security.md"

CUSTOMER = ("customer@oms.example", "scan-customer-pass-7Qx", "C-000001")
REP = ("rep@oms.example", "scan-rep-pass-7Qx")

# wapiti levels (wapitiCore.language.vulnerability): 1 low, 2 medium, 3 high, 4 critical.
SEVERITIES = {1: "low", 2: "medium", 3: "high", 4: "critical"}
FAILING_LEVEL = 2
# The attack modules that matter for this application. Left out: ssrf and xxe (they need wapiti's
# public callback server, unreachable from CI), blindsql (time-based; sql's error-based probes cover
# the same parameters without minutes of sleeps), nikto/buster/brute_login_form (dictionary
# attacks on paths and passwords), wapp and shellshock (no CGI here).
MODULES = (
    "xss,permanentxss,sql,exec,file,redirect,crlf,csrf,methods,http_headers,cookieflags,csp,backup,htaccess"
)


@dataclass(frozen=True)
class Role:
    """One scan: who signs in, where the crawl starts, and what it must have reached."""

    name: str
    start: str  # path the crawl starts from
    scope: str  # wapiti --scope
    must_reach: tuple[str, ...]  # fnmatch patterns of paths the crawl must have fetched with 200
    min_urls: int  # URLs and forms crawled, at least
    also_start: tuple[str, ...] = ()  # further start pages, deep ones the crawl time would not reach


ROLES = {
    "anonymous": Role("anonymous", "/", "domain", ("/portal/login/", "/portal/signup/"), 8),
    "customer": Role("customer", "/portal/", "folder", ("/portal/orders/*/", "/portal/sites/"), 25),
    # From the console outwards: the admin's changelists are reached through its navigation. The
    # admin pages are slow to crawl, so an order and a customer of the demo data are start pages too.
    "rep": Role(
        "rep",
        "/admin/console/",
        "domain",
        ("/admin/console/", "/admin/console/orders/*/", "/admin/console/customers/*/"),
        25,
        also_start=("/admin/console/orders/1/", "/admin/console/customers/1/"),
    ),
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


@dataclass
class Stack:
    base_url: str
    env: dict[str, str]
    log: Path
    certificate: Path  # the server's self-signed certificate, for clients to verify it


def _admin_dsn(url: str) -> str:
    return _with_database(url, "postgres")


@contextmanager
def throwaway_database(test_url: str) -> Iterator[str]:
    name = urlsplit(test_url).path.lstrip("/") + "_live_scan"
    with psycopg.connect(_admin_dsn(test_url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _with_database(test_url, name)
    finally:
        with psycopg.connect(_admin_dsn(test_url), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(  # noqa: S603
        [
            shutil.which("openssl") or "openssl",
            *("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"),
            *("-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


class _SmtpSink(socketserver.StreamRequestHandler):
    """Just enough SMTP to accept a message and drop it: production mode insists on an SMTP mailer."""

    def handle(self) -> None:
        self.wfile.write(b"220 sink\r\n")
        in_data = False
        for line in self.rfile:
            if in_data:
                if line.rstrip(b"\r\n") == b".":
                    in_data = False
                    self.wfile.write(b"250 ok\r\n")
                continue
            verb = line[:4].upper()
            if verb == b"QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            in_data = verb == b"DATA"
            self.wfile.write(b"354 go on\r\n" if in_data else b"250 ok\r\n")


@contextmanager
def smtp_sink() -> Iterator[int]:
    with socketserver.ThreadingTCPServer(("127.0.0.1", 0), _SmtpSink) as server:
        server.daemon_threads = True
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield server.server_address[1]
        finally:
            server.shutdown()


def production_env(
    database_url: str, redis_url: str, port: int, smtp_port: int, var_dir: Path
) -> dict[str, str]:
    """The settings an operator sets in production (docs/security.md), with loopback services."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "OMS_", "EMAIL_"))}
    env.update(
        DJANGO_ENV="production",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
        OMS_SITE_URL=f"https://127.0.0.1:{port}",
        OMS_TRUSTED_PROXY_COUNT="0",
        # Staff two-factor sign-in has its own tests; the scanner signs the rep in with a password.
        OMS_STAFF_2FA_REQUIRED="0",
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        CELERY_BROKER_URL=redis_url,
        EMAIL_URL=f"smtp://127.0.0.1:{smtp_port}",
        OMS_CREDENTIAL_KEYS=Fernet.generate_key().decode(),
        OMS_VAR_DIR=str(var_dir),
        PYTHONUNBUFFERED="1",
    )
    return env


def manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([str(BIN / "python"), "manage.py", *args], cwd=BASE_DIR, env=env, check=True)  # noqa: S603


def seed(env: dict[str, str]) -> None:
    manage(env, "migrate", "--no-input", "-v", "0")
    manage(env, "seed_demo")
    # Passwords through the environment, as the operations guide asks (not on the command line).
    with_password = {**env, "SCAN_PASSWORD": CUSTOMER[1]}
    manage(
        with_password,
        "oms_user",
        CUSTOMER[0],
        "--role",
        "customer",
        "--customer",
        CUSTOMER[2],
        "--password-env",
        "SCAN_PASSWORD",
    )
    manage(
        {**env, "SCAN_PASSWORD": REP[1]},
        "oms_user",
        REP[0],
        "--role",
        "rep",
        "--password-env",
        "SCAN_PASSWORD",
    )


def wait_healthy(base_url: str, cert: Path, proc: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if requests.get(f"{base_url}/healthz", verify=str(cert), timeout=5).status_code == 200:
                return
        except (requests.ConnectionError, requests.Timeout):
            pass
        time.sleep(0.3)
    raise RuntimeError(f"gunicorn did not answer /healthz in {timeout} s:\n{log.read_text()[-3000:]}")


@contextmanager
def live_stack(workdir: Path, test_database_url: str, redis_url: str) -> Iterator[Stack]:
    """gunicorn on HTTPS, in production mode, on a freshly seeded throwaway database."""
    port = _free_port()
    with throwaway_database(test_database_url) as database_url, smtp_sink() as smtp_port:
        env = production_env(database_url, redis_url, port, smtp_port, workdir / "var")
        seed(env)
        manage(env, "collectstatic", "--no-input", "-v", "0")
        cert, key = self_signed_certificate(workdir)
        log = workdir / "gunicorn.log"
        with open(log, "w") as out:
            proc = subprocess.Popen(  # noqa: S603
                [
                    str(BIN / "gunicorn"),
                    "oms.wsgi:application",
                    *("--bind", f"127.0.0.1:{port}", "--workers", "3", "--timeout", "60"),
                    *("--certfile", str(cert), "--keyfile", str(key)),
                    *("--access-logfile", "-"),
                ],
                cwd=BASE_DIR,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            base_url = f"https://127.0.0.1:{port}"
            try:
                wait_healthy(base_url, cert, proc, log)
                yield Stack(base_url, env, log, cert)
            finally:
                proc.terminate()
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


# Rows a signed-in scanner can create through the portal and the console: the figure that shows
# whether the write rate limits hold (the scan floods every form it finds).
WRITE_TABLES = ("fleet_message", "fleet_callrequest", "customers_site", "orders_order")


def row_counts(stack: Stack) -> dict[str, int]:
    with psycopg.connect(stack.env["DATABASE_URL"]) as conn:
        return {table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in WRITE_TABLES}  # noqa: S608


# --- signing in --------------------------------------------------------------------------------


def _form_login(stack: Stack, path: str, username: str, password: str, landing: str) -> requests.Session:
    """Sign in through the real login form (CSRF token and Referer as a browser sends them)."""
    base_url = stack.base_url
    session = client(stack)
    page = session.get(f"{base_url}{path}", timeout=30)
    page.raise_for_status()
    token = session.cookies["csrftoken"]
    answer = session.post(
        f"{base_url}{path}",
        data={"csrfmiddlewaretoken": token, "username": username, "password": password},
        headers={"Referer": f"{base_url}{path}"},
        allow_redirects=False,
        timeout=30,
    )
    landed = session.get(f"{base_url}{landing}", timeout=30, allow_redirects=False)
    if answer.status_code != 302 or landed.status_code != 200:
        raise RuntimeError(
            f"signing in at {path} as {username} failed: the form answered {answer.status_code}, "
            f"{landing} {landed.status_code}"
        )
    return session


def client(stack: Stack) -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # REQUESTS_CA_BUNDLE would replace the certificate set here
    session.verify = str(stack.certificate)
    return session


def login(stack: Stack, role: str) -> requests.Session | None:
    if role == "customer":
        return _form_login(stack, "/portal/login/", CUSTOMER[0], CUSTOMER[1], "/portal/")
    if role == "rep":
        return _form_login(stack, "/admin/login/", REP[0], REP[1], "/admin/console/")
    return None


def post_without_csrf_token(stack: Stack, session: requests.Session | None, path: str) -> int:
    """The status of a form post that carries the session (if any) but no CSRF token."""
    session = session or client(stack)
    answer = session.post(
        f"{stack.base_url}{path}",
        data={"field": "value"},
        headers={"Referer": f"{stack.base_url}{path}"},
        allow_redirects=False,
        timeout=30,
    )
    return answer.status_code


def cookie_file(session: requests.Session, path: Path) -> Path:
    """The session's cookies in wapiti's JSON cookie format ({domain: {path: {name: attrs}}})."""
    jar: dict[str, dict[str, dict[str, dict]]] = {}
    for cookie in session.cookies:
        jar.setdefault(cookie.domain, {}).setdefault(cookie.path, {})[cookie.name] = {
            "value": cookie.value,
            "expires": cookie.expires,
            "secure": cookie.secure,
            "port": None,
            "version": 0,
        }
    path.write_text(json.dumps(jar))
    return path


# --- scanning ----------------------------------------------------------------------------------


@dataclass
class ScanResult:
    role: str
    report: dict
    crawled: list[tuple[str, str, int]]  # (method, path, status) of every URL and form crawled
    seconds: float

    def findings(self) -> list[dict]:
        """Every vulnerability, anomaly and additional, flattened with its section and category."""
        found = []
        for section in ("vulnerabilities", "anomalies", "additionals"):
            for category, items in self.report.get(section, {}).items():
                found.extend(
                    {"scan": self.role, "section": section, "category": category, **i} for i in items
                )
        return found


def wapiti_command() -> list[str]:
    """wapiti through `wapiti_shim.py`, with the interpreter the installed wapiti runs on."""
    wapiti = shutil.which("wapiti")
    if wapiti is None:
        raise RuntimeError("wapiti is not installed: run scripts/ensure-wapiti.sh")
    interpreter = Path(wapiti).read_text().splitlines()[0].removeprefix("#!").split()
    return [*interpreter, str(Path(__file__).with_name("wapiti_shim.py"))]


@dataclass
class RunningScan:
    role: str
    workdir: Path
    proc: subprocess.Popen
    started: float

    def result(self, timeout: float) -> ScanResult:
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise
        log = self.workdir / "wapiti.log"
        if code != 0:
            raise RuntimeError(f"wapiti ({self.role}) exited with {code}:\n{log.read_text()[-3000:]}")
        report = json.loads((self.workdir / "report.json").read_text())
        seconds = time.monotonic() - self.started
        return ScanResult(self.role, report, crawled_paths(self.workdir / "session"), seconds)


def start_wapiti(
    stack: Stack,
    role: Role,
    session: requests.Session | None,
    workdir: Path,
    *,
    crawl_seconds: int,
    attack_seconds: int,
) -> RunningScan:
    """wapiti in the background against the stack, signed in with the session's cookies (if any)."""
    args = [
        *wapiti_command(),
        *("-u", f"{stack.base_url}{role.start}", "--scope", role.scope),
        *("-m", MODULES, "--flush-session", "--store-session", str(workdir / "session")),
        *("--max-scan-time", str(crawl_seconds), "--max-attack-time", str(attack_seconds)),
        *("--max-links-per-page", "40", "--max-files-per-dir", "10", "-d", "4", "-t", "20"),
        *("-f", "json", "-o", str(workdir / "report.json"), "-v", "1", "--no-bugreport"),
        # Signing out would end the authenticated scans.
        *("-x", f"{stack.base_url}/portal/logout/", "-x", f"{stack.base_url}/admin/logout/"),
        # The sign-in fields: every attempt costs a password hash (or meets the lockout), and wapiti
        # checks its time limit only between forms; the sign-in views are Django's own.
        *("--skip", "username", "--skip", "password", "--skip", "next"),
    ]
    for path in role.also_start:
        args += ["-s", f"{stack.base_url}{path}"]
    if session is not None:
        args += ["-c", str(cookie_file(session, workdir / "cookies.json"))]
    with open(workdir / "wapiti.log", "w") as out:
        proc = subprocess.Popen(
            args, cwd=workdir, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )  # noqa: S603
    return RunningScan(role.name, workdir, proc, time.monotonic())


def crawled_paths(session_dir: Path) -> list[tuple[str, str, int]]:
    (db,) = session_dir.glob("*.db")
    with sqlite3.connect(db) as conn:
        # Rows without headers are the queue left when the crawl time ran out: never fetched.
        rows = conn.execute(
            "SELECT method, path, http_status FROM paths WHERE evil = 0 AND headers IS NOT NULL"
        ).fetchall()
    return [(method, urlsplit(url).path, status or 0) for method, url, status in rows]


ACCESS_LINE = re.compile(r'"(?P<request>[A-Z]+ \S+) HTTP/[\d.]+" (?P<status>\d{3}) ')


def server_errors(log: Path) -> list[str]:
    """`METHOD path status` of every request gunicorn answered with a 5xx (its access log)."""
    found = []
    for line in log.read_text(errors="replace").splitlines():
        if (match := ACCESS_LINE.search(line)) and match["status"].startswith("5"):
            found.append(f"{match['request']} {match['status']}")
    return found


# --- triage ------------------------------------------------------------------------------------


def finding_key(finding: dict) -> str:
    """What the triage list matches: `<category> <METHOD> <path>`."""
    return f"{finding['category']} {finding['method']} {finding['path']}"


def load_triage() -> list[dict]:
    return json.loads(TRIAGE_FILE.read_text())["triaged"]


def untriaged(findings: list[dict], triage: list[dict]) -> list[dict]:
    """Findings of medium severity or above that no triage entry covers (its key is an fnmatch pattern)."""
    return [
        f
        for f in findings
        if int(f["level"] or 0) >= FAILING_LEVEL
        and not any(fnmatch.fnmatchcase(finding_key(f), t["key"]) and f["scan"] in t["scans"] for t in triage)
    ]


def counts_by_severity(findings: list[dict]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for f in findings:
        name = SEVERITIES.get(int(f["level"] or 0), "info")
        counts[name] = counts.get(name, 0) + 1
    return counts
