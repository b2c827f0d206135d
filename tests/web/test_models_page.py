"""The model registry pages against a registered model (a ridge in two versions, seeded):
versions, lineage, a drift check run from the page, a promotion; a strategy demoted and
retired through the page's prompt; an expired access token refreshed under a working page."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.web.conftest import Dashboard

expect = pytest.importorskip("playwright.sync_api").expect


def _state(dashboard: Dashboard, ref: str) -> str:
    return str(dashboard.get("admin", f"/web/strategies/{ref}/lifecycle")["state"]["state"])


def _audit(dashboard: Dashboard, action: str) -> list[dict[str, Any]]:
    return list(dashboard.get("admin", "/audit", action=action, limit=200)["entries"])


def test_the_registry_lists_each_version_with_its_stage_age_and_metrics(
    page_for: Any, dashboard: Dashboard
) -> None:
    models = dashboard.get("viewer", "/models")["models"]
    assert {m["ref"] for m in models} >= set(dashboard.seeded["models"])
    p = page_for("viewer")
    page = p.open("models")
    rows = page.locator("#models tbody tr")
    assert rows.count() == len(models)
    for i, m in enumerate(models):
        cells = rows.nth(i).locator("td").all_inner_texts()
        assert cells[:5] == [m["name"], f"v{m['version']}", m["stage"], m["family"], m["dataset"]]
        assert cells[5].endswith(("s", "min", "h", "d"))
        assert cells[6] == f"{m['metrics']['ic']:.4f}"
        assert cells[7] == f"{m['metrics']['rank_ic']:.4f}"
    p.shot("models")


def test_a_version_shows_its_lineage_and_a_drift_check_started_from_the_page(
    page_for: Any, dashboard: Dashboard
) -> None:
    first, second = dashboard.seeded["models"]
    doc = dashboard.get("researcher", f"/models/{second}")
    p = page_for("researcher")
    page = p.open(f"models/{second}")
    assert page.inner_text("h1") == second
    assert page.inner_text("#dataset-hash") == doc["dataset_hash"]
    assert page.inner_text("#parent") == first
    spec = page.inner_text("#model-spec")
    assert '"family": "ridge"' in spec
    assert '"mom21"' in spec
    assert page.locator("#lineage li").all_inner_texts() == [second, first]
    metrics = dict(zip(page.locator("#metrics tbody td:first-child").all_inner_texts(),
                       page.locator("#metrics tbody td:nth-child(2)").all_inner_texts(),
                       strict=True))  # fmt: skip
    assert metrics["ic"] == f"{doc['metrics']['ic']:.4f}"
    assert page.locator("#stage-production").count() == 0  # a researcher may not promote
    # the parent link leads to v1, which names no parent
    page.click("#parent a")
    page.wait_for_selector(f"h1:text-is('{first}')")
    assert "none" in page.inner_text("#parent")
    # drift: a job started from the page; its result and the alerts it recorded appear
    page = p.open(f"models/{second}")
    before = dashboard.get("researcher", "/jobs", kind="model.monitor")["jobs"]
    page.click("#drift-check")
    page.wait_for_selector("#drift-verdict, #drift-job p.error", timeout=60_000)
    jobs = dashboard.get("researcher", "/jobs", kind="model.monitor")["jobs"]
    assert len(jobs) == len(before) + 1
    job = jobs[0]
    assert job["status"] == "succeeded", (job, page.inner_text("#drift-job"))
    result = dashboard.get("researcher", f"/jobs/{job['id']}/result")["result"]
    assert page.inner_text("#drift-psi") == f"{result['prediction_psi']:.3f}"
    alerts = dashboard.get("researcher", f"/models/{second}")["alerts"]
    assert len(alerts) == len(result["alerts"])
    if alerts:
        assert page.locator("#drift tbody tr").count() == len(alerts)
        assert "alert" in page.inner_text("#drift-verdict")
    else:
        assert page.inner_text("#drift-verdict") == "no drift"
    p.shot("model-drift")


def test_an_admin_promotes_a_version_and_a_viewer_has_no_button(
    page_for: Any, dashboard: Dashboard
) -> None:
    _, second = dashboard.seeded["models"]
    viewer = page_for("viewer")
    page = viewer.open(f"models/{second}")
    assert page.locator("#model-actions button").count() == 0
    admin = page_for("admin")
    page = admin.open(f"models/{second}")
    page.once("dialog", lambda d: d.accept("out-of-sample IC checked"))
    page.click("#stage-production")
    expect(page.locator("#stage")).to_have_text("production")
    # re-rendered with the moves production allows: archived only
    moves = page.locator("#model-actions button[id^=stage-]").all_inner_texts()
    assert moves == ["Move to archived"]
    assert dashboard.get("viewer", f"/models/{second}")["stage"] == "production"
    history = page.locator("#stage-history tbody tr").last.locator("td").all_inner_texts()
    assert history[1:] == ["candidate", "production", "out-of-sample IC checked"]
    entries = _audit(dashboard, "model.promoted")
    assert any(e["actor"] == "admin" and e["payload"]["to"] == "production" for e in entries)
    admin.shot("model-promoted")


def test_a_strategy_is_demoted_and_retired_through_the_page_prompt(
    page_for: Any, dashboard: Dashboard
) -> None:
    board = dashboard.get("admin", "/web/leaderboard", data="factor-etfs")
    pick = next(s for s in board["strategies"] if s["passed"])["hash"]
    r = dashboard.post("admin", f"/lifecycle/{pick}",
                       action="promote", to="shadow", reason="validated pick")  # fmt: skip
    assert r["to"] == "shadow", r
    p = page_for("admin")
    page = p.open(f"strategy/{pick}")
    page.once("dialog", lambda d: d.dismiss())  # no reason: nothing is sent
    page.click("#lifecycle-demote")
    assert _state(dashboard, pick) == "shadow"
    for action, reason, state in (
        ("demote", "shadow record too short", "backtest"),
        ("retire", "superseded by a better pick", "retired"),
    ):
        page.once("dialog", lambda d, reason=reason: d.accept(reason))
        page.click(f"#lifecycle-{action}")
        page.wait_for_selector(f"#lifecycle:has-text('{state}')")
        assert _state(dashboard, pick) == state
        entries = _audit(dashboard, "api.lifecycle.move")
        assert any(e["actor"] == "admin" and e["payload"]["reason"] == reason
                   for e in entries), entries  # fmt: skip
    p.shot("strategy-retired")


def test_an_expired_access_token_is_refreshed_and_the_page_keeps_working(
    page_for: Any, dashboard: Dashboard
) -> None:
    from alphaloop.api.security import decode_access_token, issue_access_token
    from tests.api.conftest import STRONG_SECRET  # the test server's signing secret

    p = page_for("viewer")
    page = p.page
    # a real access token of this user, signed by the server's secret, expired two minutes ago
    claims = decode_access_token(dashboard.token("viewer"), STRONG_SECRET)
    expired, _ = issue_access_token(claims, STRONG_SECRET, ttl_s=-120)
    r = httpx.get(
        f"{dashboard.base}/api/v1/auth/me", headers={"Authorization": f"Bearer {expired}"}
    )
    assert r.status_code == 401
    assert "expired" in r.json()["error"]["message"]
    old_refresh = page.evaluate("sessionStorage.getItem('al.refresh')")
    page.evaluate("(t) => sessionStorage.setItem('al.access', t)", expired)
    # the page's first call is refused; the client trades its refresh token for a new pair
    # and repeats the call
    page = p.open("models")
    assert page.locator("#models tbody tr").count() >= 2
    access = page.evaluate("sessionStorage.getItem('al.access')")
    assert access != expired
    assert page.evaluate("sessionStorage.getItem('al.refresh')") != old_refresh
    r = httpx.get(f"{dashboard.base}/api/v1/auth/me", headers={"Authorization": f"Bearer {access}"})
    assert r.status_code == 200
    assert r.json()["name"] == "viewer"
