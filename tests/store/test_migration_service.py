"""Migration 0013 adds the service's users, refresh tokens, API keys and jobs to an older
workspace, with the columns, keys and indexes the models declare."""

from __future__ import annotations

from pathlib import Path

from alphaloop.api.users import UserStore
from alphaloop.app import Workspace

from .migrations import assert_tables_match_models, upgrade_to

TABLES = ("service_users", "service_refresh_tokens", "service_api_keys", "service_jobs")


def test_an_older_workspace_gets_the_service_tables(tmp_path: Path, db_settings: dict) -> None:
    ws = Workspace(tmp_path / "ws", **db_settings)
    before = upgrade_to(ws, "0011")
    assert not set(TABLES) & before
    users = UserStore(ws.db)  # opening the database migrates it
    user = users.add("first-admin", "a long passphrase", "admin")
    key = users.create_key(user.name, "cron")
    inspector = assert_tables_match_models(ws, TABLES)
    for table in ("service_refresh_tokens", "service_api_keys"):
        keys = inspector.get_foreign_keys(table, schema=ws.settings.database_schema)
        assert [(k["referred_table"], k["referred_columns"]) for k in keys] == [
            ("service_users", ["id"])
        ]
    indexes = inspector.get_indexes("service_jobs", schema=ws.settings.database_schema)
    assert [i["column_names"] for i in indexes] == [["status"]]
    assert users.authenticate_key(key.secret or "").name == "first-admin"
    ws.close()
