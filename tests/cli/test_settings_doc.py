from __future__ import annotations

from batch.settings import AlertConfig, BatchSettings, FreshnessConfig
from online.settings import OnlineSettings
from shared_schemas.config import project_root
from tandem_cli.release.settings import ReleaseSettings
from tandem_cli.settings_doc import BEGIN, END, render, variables


def test_readme_table_matches_settings() -> None:
    readme = (project_root() / "README.md").read_text()
    table = readme.split(BEGIN)[1].split(END)[0].strip()
    assert table == render(), "run `python -m tandem_cli.settings_doc`"


def test_table_names_every_setting() -> None:
    table = render()
    for fields in (
        BatchSettings.model_fields,
        OnlineSettings.model_fields,
        ReleaseSettings.model_fields,
    ):
        for var, _ in variables(dict(fields)):
            assert f"| `{var}` |" in table


def test_nested_sections_get_one_row_per_sub_field() -> None:
    table = render()
    for section, model in (("FRESHNESS", FreshnessConfig), ("ALERTS", AlertConfig)):
        assert f"| `TANDEM_{section}` |" not in table  # the section itself is no variable
        for sub, info in model.model_fields.items():
            row = next(r for r in table.splitlines() if f"`TANDEM_{section}__{sub.upper()}`" in r)
            assert row.endswith(f"| {info.description} |")
    assert "| `TANDEM_FRESHNESS__INTERVAL_MIN` | batch | `15` |" in table
    assert "| `TANDEM_ALERTS__WEBHOOK_URL` | batch | unset |" in table


def test_release_settings_have_their_own_rows() -> None:
    table = render()
    assert "| `TANDEM_KUBE_CONTEXT` | release | unset |" in table
    assert "| `TANDEM_ROLLOUT_TIMEOUT_S` | release | `300` |" in table
    assert "| `TANDEM_RELEASE_MANIFEST` | release | (computed) |" in table
    assert not {"kube_context", "release_manifest", "rollout_timeout_s"} & set(
        BatchSettings.model_fields
    )
