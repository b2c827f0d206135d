"""The dashboard in a real browser (headless Chromium) against ``alphaloop serve`` on a
seeded workspace: login, every page, a research session started from the page and watched
to its end, an approval, the kill switch, role-aware buttons, fills streaming in."""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.web.conftest import Dashboard

PAGES = ("overview", "research", "strategies", "models", "factors", "risk", "approvals",
         "trading", "audit")  # fmt: skip


def test_a_wrong_password_is_refused_and_the_pages_say_why(
    browser: Any, dashboard: Dashboard
) -> None:
    from tests.web.conftest import Page

    p = Page(browser, dashboard)
    try:
        p.login("viewer", "not the password at all")
        p.page.wait_for_selector("#login-error:not(:empty)")
        assert "password" in p.page.inner_text("#login-error").lower()
        assert p.page.is_hidden("header#top")
        p.shot("login")
        assert not p.errors, p.errors
    finally:
        p.close()


def test_every_page_renders_for_an_admin(page_for: Any, dashboard: Dashboard) -> None:
    p = page_for("admin")
    nav = p.page.locator("#nav a").all_inner_texts()
    assert "Users" in nav
    for name in (*PAGES, "users"):
        p.open(name)
        p.shot(name)
    seeded = dashboard.seeded
    # the leaderboard: every Sharpe with its DSR, PBO and the dataset's trial count
    board = dashboard.get("admin", "/web/leaderboard", data="factor-etfs")
    page = p.open("strategies/factor-etfs")
    head = page.locator("#leaderboard thead th").all_inner_texts()
    assert head[3:8] == ["Sharpe", "DSR", "DSR at validation", "PBO", "trials"]
    rows = page.locator("#leaderboard tbody tr")
    assert rows.count() == len(board["strategies"]) >= 2
    assert page.inner_text("#trials") == f"{board['n_trials']} trials"
    for i, s in enumerate(board["strategies"]):
        cells = rows.nth(i).locator("td").all_inner_texts()
        assert cells[0] == s["name"]
        assert cells[3] == f"{s['sharpe']:.2f}"
        assert cells[7] == str(board["n_trials"])
        if s["dsr"] is not None:
            assert cells[4] == f"{s['dsr']:.3f}"
    # strategy detail from the research pick: tearsheet, validation gates, genealogy
    pick = next(s for s in board["strategies"] if s["passed"])
    page.click(f"#leaderboard a[href='#/strategy/{pick['hash']}']")
    page.wait_for_selector("body[data-page=strategy]")
    assert page.locator("svg.chart path.line").count() == 1
    gates = page.locator("#validation tbody tr td:first-child").all_inner_texts()
    assert {"dsr", "pbo"} <= set(gates)
    assert page.locator("#genealogy g.node.pick").count() == 1
    assert "backtest" in page.inner_text("#lifecycle")
    p.shot("strategy")
    # research report with the funnel
    page = p.open(f"research/{seeded['research_session']}")
    report = dashboard.get("admin", f"/research/sessions/{seeded['research_session']}/report")
    assert page.locator("#candidates tbody tr").count() == len(report["candidates"])
    assert page.locator("svg.funnel").count() == 1
    p.shot("research-report")
    # overview: the P&L of the paper session as the server computes it
    page = p.open("overview")
    pnl = dashboard.get("admin", f"/paper/sessions/{seeded['paper_session']}/pnl")["pnl"]
    assert page.inner_text("#pnl") == f"{round(pnl):,}"
    # trading: positions and fills as the API has them
    sid = seeded["paper_session"]
    page = p.open(f"trading/{sid}")
    fills = dashboard.get("admin", f"/paper/sessions/{sid}/fills")["fills"]
    positions = dashboard.get("admin", f"/paper/sessions/{sid}/positions")["positions"]
    assert page.locator("#fills tbody tr").count() == len(fills) > 0
    assert page.locator("#positions tbody tr td:first-child").all_inner_texts() == list(positions)


def test_a_viewer_sees_no_button_it_may_not_use_and_the_server_refuses_anyway(
    page_for: Any, dashboard: Dashboard
) -> None:
    p = page_for("viewer")
    assert "Users" not in p.page.locator("#nav a").all_inner_texts()
    page = p.open("research")
    assert page.locator("#start-research").count() == 0
    page = p.open("risk")
    assert page.locator("#kill-engage, #kill-clear, #mode-form").count() == 0
    page = p.open("approvals")
    assert page.locator("button[id^=approve-]").count() == 0
    assert page.locator("#approvals tbody tr").count() >= 1  # it may read the queue
    p.shot("approvals-viewer")
    # the page's own client, forced: the server says no
    status = page.evaluate(
        """async () => (await fetch('/api/v1/risk/kill', {method: 'POST',
             headers: {'Content-Type': 'application/json',
                       Authorization: 'Bearer ' + sessionStorage.getItem('al.access')},
             body: JSON.stringify({scope: 'all', reason: 'viewer tries'})})).status"""
    )
    assert status == 403
    assert dashboard.get("admin", "/risk/kill")["active"] == []


def test_a_trader_approves_an_order_from_the_queue(page_for: Any, dashboard: Dashboard) -> None:
    approval = dashboard.seeded["approval"]
    p = page_for("trader")
    page = p.open("approvals")
    page.fill(f"#reason-{approval}", "size checked against the limits")
    page.click(f"#approve-{approval}")
    page.wait_for_selector(f"#approve-{approval}", state="detached")
    p.shot("approvals-after")
    decided = dashboard.get("trader", "/approvals", status="approved")["approvals"]
    row = next(a for a in decided if a["id"] == approval)
    assert (row["status"], row["decided_by"]) == ("approved", "trader")
    entries = dashboard.get("admin", "/audit", limit=50)["entries"]
    assert any(e["action"] == "api.approvals.approve" and e["actor"] == "trader"
               and e["payload"]["reason"] == "size checked against the limits"
               for e in entries)  # fmt: skip


def test_the_kill_switch_from_the_risk_panel(page_for: Any, dashboard: Dashboard) -> None:
    p = page_for("trader")
    page = p.open("risk")
    page.click("#kill-engage")  # no reason: refused in the page, nothing sent
    assert dashboard.get("trader", "/risk/kill")["active"] == []
    page.fill("#kill-reason", "drawdown breach on the desk")
    page.click("#kill-engage")
    page.wait_for_selector("#kill-clear")
    assert "ENGAGED" in page.inner_text("#kill-state")
    active = dashboard.get("trader", "/risk/kill")["active"]
    assert [(k["scope"], k["reason"], k["actor"]) for k in active] == [
        ("all", "drawdown breach on the desk", "trader")
    ]
    p.shot("risk-killed")
    page = p.open("overview")
    assert "drawdown breach on the desk" in page.inner_text("#alerts")
    page = p.open("risk")
    page.fill("#kill-reason", "limits reset")
    page.click("#kill-clear")
    page.wait_for_selector("#kill-engage")
    assert dashboard.get("trader", "/risk/kill")["active"] == []


def test_a_research_session_started_from_the_page_is_watched_to_its_end(
    page_for: Any, dashboard: Dashboard
) -> None:
    before = dashboard.get("researcher", "/web/leaderboard", data="factor-etfs")["n_trials"]
    p = page_for("researcher")
    page = p.open("research")
    form = page.locator("#start-research")
    form.locator("input[name=budget]").fill("2")
    form.locator("input[name=batch_size]").fill("2")
    form.locator("input[name=seed]").fill("11")
    form.locator("select[name=data]").select_option("factor-etfs")
    form.locator("button[type=submit]").click()
    card = page.locator("#watch .card").first
    card.wait_for()
    page.wait_for_selector("#watch .card[data-status=running], #watch .card[data-status=succeeded]",
                           timeout=120_000)  # fmt: skip
    page.wait_for_selector("#watch .card[data-status=succeeded] a.report", timeout=180_000)
    text = card.inner_text()
    assert "2/2 candidates evaluated" in text
    assert card.locator("svg.funnel").count() == 1  # the batch's rejection funnel, live
    p.shot("research-watched")
    card.locator("a.report").click()
    page.wait_for_selector("#candidates")
    after = dashboard.get("researcher", "/web/leaderboard", data="factor-etfs")["n_trials"]
    assert after == before + 2  # both candidates counted as trials
    assert f"{after} trials on factor-etfs" in page.inner_text("main")
    match = re.search(r"#/research/(\d+)", page.url)
    assert match is not None
    report = dashboard.get("researcher", f"/research/sessions/{match.group(1)}/report")
    assert report["goal"] == "momentum, technical only"
    assert page.locator("#candidates tbody tr").count() == report["n_evaluations"] == 2


def test_fills_and_pnl_stream_into_the_trading_page(page_for: Any,
                                                    dashboard: Dashboard) -> None:  # fmt: skip
    import pytest

    if dashboard.bus_topic is None:
        pytest.skip("no Redis server for the live bus")
    from alphaloop.api.bus_bridge import PnlTick, PnlTicked
    from alphaloop.live.bus import Fill, OrderFilled
    from alphaloop.live.bus.redis_streams import RedisBus
    from tests.web.conftest import REDIS_URL

    sid = dashboard.seeded["paper_session"]
    p = page_for("viewer")
    page = p.open(f"trading/{sid}")
    page.wait_for_selector("body[data-live=open]")
    rows = page.locator("#fills tbody tr").count()
    bus = RedisBus(REDIS_URL)
    tick = PnlTicked(source=f"paper-{sid}",
                     payload=PnlTick(session=str(sid), equity=1_290_500.0, pnl=2783.0))  # fmt: skip
    fill = OrderFilled(
        source=f"paper-{sid}",
        payload=Fill(fill_id="w1", order_id="w1", symbol="QUAL", side="buy", quantity=12,
                     price=131.25, commission=0.5),
    )  # fmt: skip
    for _ in range(20):  # the bridge reads the entries added after its consumer group was made
        bus.publish(tick, dashboard.bus_topic)
        bus.publish(fill, dashboard.bus_topic)
        try:
            page.locator("#fills tbody tr").nth(rows).wait_for(timeout=1_000)
            break
        except Exception:
            continue
    first = page.locator("#fills tbody tr").first.locator("td").all_inner_texts()
    assert first[1:4] == ["QUAL", "12.00", "131.250"]
    page.wait_for_selector("#tick:has-text('(live)')")
    assert "1,290,500" in page.inner_text("#tick")
    p.shot("trading-live")


def test_a_paper_session_on_the_bus_streams_into_its_trading_page(
    page_for: Any, dashboard: Dashboard
) -> None:
    import threading

    import pytest

    if dashboard.bus_topic is None or dashboard.root is None:
        pytest.skip("no Redis server for the live bus")
    from alphaloop.app import Workspace, open_paper, run_paper
    from alphaloop.app.paper import paper_store
    from alphaloop.backtest import StrategySpec
    from tests.web.conftest import REDIS_URL

    ws = Workspace(dashboard.root)
    try:
        seeded = paper_store(ws).get(dashboard.seeded["paper_session"])
        spec = StrategySpec.from_dict({**seeded.spec, "name": "web-streamed"})
        info, new = open_paper(ws, spec, speed=40.0)
        assert new
        p = page_for("viewer")
        page = p.open(f"trading/{info.id}")
        page.wait_for_selector("body[data-live=open]")
        assert page.locator("#fills tbody tr").count() == 0  # nothing recorded yet
        done: list[Any] = []
        worker = threading.Thread(target=lambda: done.append(run_paper(
            ws, info.id, bus=REDIS_URL, bus_topic=dashboard.bus_topic)))  # fmt: skip
        worker.start()
        page.wait_for_selector("#tick:has-text('(live)')", timeout=30_000)
        worker.join(120)
        assert done
        assert done[0].session.status == "finished"
        store = paper_store(ws)
        fills, final = store.fills(info.id), store.get(info.id).equity
        # every fill the session recorded streamed in, newest first, and the last tick
        page.locator("#fills tbody tr").nth(len(fills) - 1).wait_for(timeout=10_000)
        page.wait_for_selector(f"#tick:has-text('equity {round(final):,}')", timeout=10_000)
        assert page.locator("#fills tbody tr").count() == len(fills) > 0
        # the session's state, positions and orders follow without a reload
        done_info = store.get(info.id)
        page.wait_for_selector(
            f"#state:has-text('bar {done_info.position}/{done_info.n_bars}')", timeout=10_000
        )
        page.wait_for_selector("#state:has-text('finished')", timeout=10_000)
        held = dashboard.get("viewer", f"/paper/sessions/{info.id}/positions")["positions"]
        shown = page.locator("#positions tbody tr td:first-child").all_inner_texts()
        assert shown == (list(held) or ["flat"])
        n_orders = len(dashboard.get("viewer", f"/paper/sessions/{info.id}/orders")["orders"])
        assert page.locator("#orders tbody tr").count() == min(n_orders, 50) > 0
        last = fills.iloc[-1]
        first = page.locator("#fills tbody tr").first.locator("td").all_inner_texts()
        assert first[1:4] == [last["asset"], f"{last['quantity']:.2f}", f"{last['price']:.3f}"]
        p.shot("trading-paper-bus")
    finally:
        ws.close()


def test_an_admin_adds_a_user_from_the_users_page(page_for: Any, dashboard: Dashboard) -> None:
    p = page_for("admin")
    page = p.open("users")
    form = page.locator("#add-user")
    form.locator("input[name=name]").fill("casey")
    form.locator("input[name=password]").fill("a long enough passphrase")
    form.locator("select[name=role]").select_option("researcher")
    form.locator("button[type=submit]").click()
    page.wait_for_selector("#role-casey")
    users = {u["name"]: u["role"] for u in dashboard.get("admin", "/users")["users"]}
    assert users["casey"] == "researcher"
    r = httpx.post(f"{dashboard.base}/api/v1/auth/login",
                   json={"username": "casey", "password": "a long enough passphrase"})  # fmt: skip
    assert r.status_code == 200


def test_the_pages_extra_routes_agree_with_the_records(dashboard: Dashboard) -> None:
    seeded = dashboard.seeded
    board = dashboard.get("viewer", "/web/leaderboard", data="factor-etfs")
    top = dashboard.get("viewer", "/strategies/top", data="factor-etfs", limit=50)
    assert board["n_trials"] == top["n_trials"]
    assert {s["hash"] for s in board["strategies"]} == {s["hash"] for s in top["strategies"]}
    for row in board["strategies"]:
        assert row["dsr"] is None or 0.0 <= row["dsr"] <= 1.0
        shown = dashboard.get("viewer", f"/strategies/{row['hash']}")
        same = [e for e in shown["evaluations"] if e["protocol"] == row["protocol"]]
        validation = same[0]["validation"] if same else None
        if validation is None:  # a plain backtest: no search, no PBO
            assert (row["pbo"], row["dsr_at_validation"]) == (None, None)
            continue
        gate = {g["name"]: g["value"] for g in validation["gates"]}
        assert row["dsr_at_validation"] == gate["dsr"]
        assert row["pbo"] == validation.get("session_pbo", gate.get("pbo"))
    # the growth of 1 compounds the stored backtest returns to the recorded total return
    shown = dashboard.get("viewer", f"/strategies/{seeded['strategy']}")
    backtest = next(e for e in shown["evaluations"] if e["protocol"] == "backtest")
    curve = dashboard.get("viewer", f"/web/strategies/{seeded['strategy']}/equity", points=50)
    assert curve["n"] == backtest["n_returns"]
    assert len(curve["values"]) <= 51
    assert abs(curve["values"][-1] - (1 + backtest["metrics"]["total_return"])) < 1e-6
    life = dashboard.get("viewer", f"/web/strategies/{seeded['strategy']}/lifecycle")
    assert (life["state"]["state"], life["history"]) == ("backtest", [])
    refused = httpx.get(f"{dashboard.base}/api/v1/web/leaderboard", params={"data": "factor-etfs"})
    assert refused.status_code == 401


def test_the_pages_are_our_own_and_load_nothing_from_elsewhere(dashboard: Dashboard) -> None:
    from alphaloop.api.webui import WEB_DIR

    files = [p for p in WEB_DIR.rglob("*") if p.is_file()]
    assert {"index.html", "style.css", "main.js", "api.js", "svg.js"} <= {p.name for p in files}
    for path in files:
        text = path.read_text()
        urls = set(re.findall(r"https?://[^\s\"'`)]+", text)) - {"http://www.w3.org/2000/svg"}
        assert urls == set(), (path.name, urls)  # no CDN, no remote asset
    r = httpx.get(f"{dashboard.base}/ui/")
    assert r.status_code == 200
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert r.headers["x-frame-options"] == "DENY"
    assert httpx.get(f"{dashboard.base}/").headers["location"] == "/ui/"


def test_a_factor_evaluated_from_the_page_shows_its_result(
    page_for: Any, dashboard: Dashboard
) -> None:
    p = page_for("researcher")
    page = p.open("factors")
    assert page.locator("#libraries tbody tr").count() >= 1
    form = page.locator("#factor-form")
    form.locator("input[name=target]").fill("Mean($close, 10) / $close")
    form.locator("select[name=data]").select_option("factor-etfs")
    form.locator("button[name=evaluate]").click()
    done = page.locator("#factor-jobs .card:has(pre)")
    done.wait_for(timeout=120_000)
    job_id = int(done.get_attribute("id").removeprefix("fjob-"))  # type: ignore[union-attr]
    result = dashboard.get("researcher", f"/jobs/{job_id}/result")["result"]
    shown = done.locator("pre").inner_text()
    assert f'"valid": {result["factor"]["valid"]}' in shown
    p.shot("factors-evaluated")
