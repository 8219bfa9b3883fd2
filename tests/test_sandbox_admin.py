"""The sandbox's admin routes (/_sandbox/faults, /_sandbox/fund) need the admin token that
`updown sandbox` prints and exactly application/json: a web page the operator visits cannot
inject faults or fund wallets (issue 22, item 4)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from playwright.sync_api import sync_playwright

from panel_app.testing import launch_chromium
from sandbox.config import SandboxConfig
from sandbox.server import SandboxServer

pytestmark = pytest.mark.slow
WALLET = "0x" + "ab" * 20


@pytest.fixture(scope="module")
def server():
    server = SandboxServer(
        SandboxConfig(port=0, assets=("BTC",), window_seconds=(60,), tick_seconds=1.0)
    ).start()
    yield server
    server.stop()


def balance(server) -> str | None:
    account = server.exchange.ledger.accounts.get(WALLET)
    return None if account is None else str(account.usdc)


def test_admin_routes_need_the_token_and_exact_json(server):
    base = server.base_url
    fault = {"kind": "reject_orders", "count": 1}
    assert httpx.post(f"{base}/_sandbox/faults", json=fault).status_code == 401
    wrong = {"Authorization": "Bearer not-the-token"}
    assert httpx.post(f"{base}/_sandbox/faults", json=fault, headers=wrong).status_code == 401
    assert httpx.delete(f"{base}/_sandbox/faults").status_code == 401
    plain = server.admin_headers | {"Content-Type": "text/plain; charset=application/json"}
    sent = httpx.post(f"{base}/_sandbox/faults", content=b'{"kind":"reject_orders"}', headers=plain)
    assert sent.status_code == 415
    assert httpx.get(f"{base}/_sandbox/state").json()["faults"] == []
    ok = httpx.post(f"{base}/_sandbox/faults", json=fault, headers=server.admin_headers)
    assert ok.status_code == 200 and [f["kind"] for f in ok.json()["faults"]] == ["reject_orders"]
    cleared = httpx.delete(f"{base}/_sandbox/faults", headers=server.admin_headers)
    assert cleared.status_code == 200 and cleared.json()["faults"] == []


def test_a_web_page_cannot_inject_faults_or_fund_wallets(server):
    base = server.base_url
    page_html = f"""<html><body><form id=f method=post action="{base}/_sandbox/fund"
      enctype="text/plain"><input name='{{"address":"{WALLET}","usd":"1e9","x":"'
      value='"}}'></form><script>
      const go = (path, body) => fetch("{base}" + path, {{method: "POST", mode: "no-cors",
        headers: {{"Content-Type": "text/plain; charset=application/json"}},
        body: JSON.stringify(body)}});
      Promise.allSettled([
        go("/_sandbox/faults", {{kind: "reject_orders"}}),
        go("/_sandbox/fund", {{address: "{WALLET}", usd: "1e9"}}),
        fetch("{base}/_sandbox/faults", {{method: "DELETE", mode: "no-cors"}}),
      ]).then(() => {{ window.done = true; }});
    </script></body></html>""".encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(page_html)

        def log_message(self, *_args):
            pass

    site = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=site.serve_forever, daemon=True).start()
    try:
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            page = browser.new_page()
            page.goto(f"http://127.0.0.1:{site.server_address[1]}/")
            page.wait_for_function("window.done === true")
            with page.expect_navigation():
                page.evaluate("document.getElementById('f').submit()")
            assert "admin token required" in page.content()
            browser.close()
    finally:
        site.shutdown()
    assert httpx.get(f"{base}/_sandbox/state").json()["faults"] == []
    assert balance(server) is None  # never funded (nor created)


def test_updown_sandbox_prints_its_admin_token_and_takes_a_given_one():
    env = {**os.environ, "UPDOWN_SANDBOX_ADMIN_TOKEN": "given-token-123"}
    updown = os.path.join(os.path.dirname(sys.executable), "updown")
    proc = subprocess.Popen(
        [updown, "sandbox", "--port", "0", "--assets", "BTC"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("admin"):
                break
        assert lines[-1].split()[1] == "given-token-123", lines
        base = next(x.split()[1] for x in lines if x.startswith("state")).removesuffix(
            "/_sandbox/state"
        )
        ok = httpx.post(
            f"{base}/_sandbox/fund",
            json={"address": WALLET, "usd": "5"},
            headers={"Authorization": "Bearer given-token-123"},
            timeout=10,
        )
        assert ok.status_code == 200 and ok.json()["usdc"] == "1005"
    finally:
        proc.terminate()
        proc.wait(timeout=20)
