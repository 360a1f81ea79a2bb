"""The console's admin pages, in a real browser: keys, teams, limits, the audit trail."""

from __future__ import annotations

import uuid

import httpx
from playwright.sync_api import expect

from tests.browser.conftest import Console
from tests.conftest import ServerProcess


def api(server: ServerProcess, key: str | None = None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {key}"} if key else server.headers
    return httpx.Client(base_url=server.base_url, headers=headers, timeout=60)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_admin_creates_a_key_shown_once_and_signs_in_with_it(
    console: Console, server: ServerProcess
) -> None:
    alias = unique("alice")
    console.sign_in()
    console.go("#/admin/keys")
    page = console.page
    form = page.locator("form", has=page.get_by_role("heading", name="New key"))
    form.get_by_label("Alias").fill(alias)
    form.get_by_label("Largest file (e.g. 100MB)").fill("1MB")
    form.get_by_label("batch", exact=True).check()
    form.get_by_label("user_data").check()
    form.get_by_role("button", name="Create key").click()

    secret = page.get_by_test_id("new-key")
    expect(secret).to_be_visible()
    value = secret.input_value()
    assert value.startswith("sk-")
    with api(server) as c:
        info = c.get("/key/info", params={"key": alias}).json()["info"]
    assert info["max_file_size"] == 1_000_000
    assert sorted(info["allowed_purposes"]) == ["batch", "user_data"]
    row = page.locator(f'tr[data-key-id="{info["token"]}"]')
    expect(row).to_contain_text(alias)
    # The secret is not in the table, and is gone once the page is left.
    expect(row).not_to_contain_text(value)
    console.go("#/admin/teams")
    page.locator("#view h1").wait_for()
    console.go("#/admin/keys")
    expect(page.locator(f'tr[data-key-id="{info["token"]}"]')).to_be_visible()
    expect(page.get_by_test_id("new-key")).to_have_count(0)
    assert value not in page.content()

    page.get_by_test_id("sign-out").click()
    console.page.get_by_test_id("key-input").fill(value)
    console.page.get_by_test_id("sign-in").click()
    expect(page.locator("#who")).to_contain_text(alias)
    expect(page.locator("#nav-admin")).to_be_hidden()
    assert page.evaluate("sessionStorage.getItem('filegate.key')") == value


def test_a_virtual_key_on_the_admin_page_sees_the_api_403(
    console: Console, server: ServerProcess
) -> None:
    with api(server) as c:
        secret = c.post("/key/generate", json={"key_alias": unique("bob")}).json()["key"]
    with api(server, secret) as c:
        expected = c.get("/key/list", params={"return_full_object": "true", "size": 1000})
    assert expected.status_code == 403
    console.sign_in(secret)
    console.go("#/admin/keys")
    assert console.error_text() == expected.json()["error"]["message"]


def test_admin_edits_limits_and_deletes_a_key(console: Console, server: ServerProcess) -> None:
    alias = unique("carol")
    with api(server) as c:
        token = c.post("/key/generate", json={"key_alias": alias, "rpm": 100}).json()["token"]
    console.sign_in()
    console.go("#/admin/keys")
    page = console.page
    row = page.locator(f'tr[data-key-id="{token}"]')
    expect(row).to_contain_text("rpm 100")
    row.get_by_role("button", name=f"Edit the limits of {alias}").click()
    editor = page.locator("form", has=page.get_by_role("heading", name=f"Limits of {alias}"))
    editor.get_by_label("Requests per minute").fill("")  # cleared
    editor.get_by_label("Files held at once").fill("7")
    editor.get_by_role("button", name="Save limits").click()
    expect(row).to_contain_text("max_files 7")
    with api(server) as c:
        info = c.get("/key/info", params={"key": token}).json()["info"]
    assert info["max_files"] == 7 and "rpm" not in info

    row.get_by_role("button", name=f"Delete {alias}").click()
    page.get_by_test_id("confirm-delete").click()
    expect(row).to_have_count(0)
    with api(server) as c:
        assert c.get("/key/info", params={"key": token}).status_code == 404


def test_admin_manages_teams(console: Console, server: ServerProcess) -> None:
    team_id = unique("research")
    console.sign_in()
    console.go("#/admin/teams")
    page = console.page
    form = page.locator("form", has=page.get_by_role("heading", name="New team"))
    form.get_by_label("Team id").fill(team_id)
    form.get_by_label("Alias").fill("Research")
    form.get_by_label("Bytes stored in all (e.g. 50GB)").fill("50GB")
    form.get_by_role("button", name="Create team").click()
    row = page.locator(f'tr[data-team-id="{team_id}"]')
    expect(row).to_contain_text("Research")
    expect(row).to_contain_text("max_stored_bytes 50.0 GB")
    with api(server) as c:
        team = c.get("/team/info", params={"team_id": team_id}).json()["team_info"]
    assert team["max_stored_bytes"] == 50_000_000_000

    # A team with keys cannot go: the API says why, and the console shows it.
    with api(server) as c:
        c.post("/key/generate", json={"team_id": team_id}).raise_for_status()
        keys = c.get("/team/info", params={"team_id": team_id}).json()["keys"]
        refused = c.post("/team/delete", json={"team_ids": [team_id]})
    assert refused.status_code >= 400
    row.get_by_role("button", name=f"Delete team {team_id}").click()
    page.get_by_test_id("confirm-delete").click()
    assert console.error_text() == refused.json()["error"]["message"]
    with api(server) as c:
        c.post("/key/delete", json={"keys": keys}).raise_for_status()
    row.get_by_role("button", name=f"Delete team {team_id}").click()
    page.get_by_test_id("confirm-delete").click()
    expect(row).to_have_count(0)


def test_audit_trail_lists_and_filters(console: Console, server: ServerProcess) -> None:
    alias = unique("dave")
    with api(server) as c:
        token = c.post("/key/generate", json={"key_alias": alias}).json()["token"]
        c.post("/key/delete", json={"keys": [token]}).raise_for_status()
    console.sign_in()
    console.go("#/admin/audit")
    page = console.page
    rows = page.locator("tbody tr")
    expect(rows.first).to_be_visible()
    page.get_by_label("Subject").fill(token)
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(2)
    assert [r.locator('td[data-label="Action"]').inner_text() for r in rows.all()] == [
        "key.delete",
        "key.generate",
    ]
    page.get_by_label("Action").select_option("key.delete")
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("master")
