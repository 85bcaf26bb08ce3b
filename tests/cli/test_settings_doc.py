from __future__ import annotations

from batch.settings import BatchSettings
from online.settings import OnlineSettings
from shared_schemas.config import project_root
from tandem_cli.settings_doc import BEGIN, END, render


def test_readme_table_matches_settings() -> None:
    readme = (project_root() / "README.md").read_text()
    table = readme.split(BEGIN)[1].split(END)[0].strip()
    assert table == render(), "run `python -m tandem_cli.settings_doc`"


def test_table_names_every_setting() -> None:
    table = render()
    for name in {*BatchSettings.model_fields, *OnlineSettings.model_fields}:
        assert f"`TANDEM_{name.upper()}`" in table
