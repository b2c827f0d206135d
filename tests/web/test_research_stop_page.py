"""The research page stops a running session: the Stop button on its job's card (a reason
required), then the card shows the job cancelled and the session interrupted, as the API
records them."""

from __future__ import annotations

from typing import Any

from tests.web.conftest import Dashboard


def test_a_running_session_is_stopped_from_its_card(page_for: Any, dashboard: Dashboard) -> None:
    p = page_for("researcher")
    page = p.open("research")
    form = page.locator("#start-research")
    form.locator("input[name=budget]").fill("5000")  # far more than the test waits for
    form.locator("input[name=batch_size]").fill("2")
    form.locator("input[name=seed]").fill("13")
    form.locator("select[name=data]").select_option("factor-etfs")
    form.locator("button[type=submit]").click()
    card = page.locator("#watch .card").last
    card.wait_for()
    job_id = int(str(card.get_attribute("id")).removeprefix("job-"))
    # the Stop button appears once the job has noted its session
    button = page.locator(f"#job-{job_id} button#stop-{job_id}")
    button.wait_for(timeout=120_000)
    session_id = dashboard.get("researcher", f"/jobs/{job_id}")["progress"]["detail"]["session_id"]
    assert f"session {session_id}" in page.inner_text(f"#job-{job_id}")

    button.click()  # no reason: refused in the page, nothing sent
    assert dashboard.get("researcher", f"/jobs/{job_id}")["status"] == "running"
    page.fill(f"#stop-reason-{job_id}", "enough for today")
    page.locator(f"#job-{job_id} button#stop-{job_id}").click()
    page.wait_for_selector(f"#job-{job_id}[data-status=cancelled] .session", timeout=60_000)
    text = page.inner_text(f"#job-{job_id}")
    assert "cancelled" in text
    assert "interrupted" in text
    assert page.locator(f"#stop-{job_id}").count() == 0  # nothing left to stop
    p.shot("research-stopped")

    assert dashboard.get("researcher", f"/jobs/{job_id}")["status"] == "cancelled"
    session = dashboard.get("researcher", f"/research/sessions/{session_id}")
    assert session["status"] == "interrupted"
    entries = dashboard.get("admin", "/audit", action="api.research.stop")["entries"]
    mine = [e for e in entries if e["subject"] == f"research:{session_id}"]
    assert [(e["actor"], e["payload"]["reason"], e["payload"]["job"]) for e in mine] == [
        ("researcher", "enough for today", job_id)
    ]
