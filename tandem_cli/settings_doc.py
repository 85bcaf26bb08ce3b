"""Render the configuration table in the README from the settings objects.

Batch and online extend the common settings (side ``both``); the release commands read their
own (side ``release``).

``python -m tandem_cli.settings_doc`` rewrites the table between the markers in README.md;
a test fails when the README and the settings disagree.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from batch.settings import BatchSettings
from online.settings import OnlineSettings
from shared_schemas.config import CommonSettings, project_root
from tandem_cli.release.settings import ReleaseSettings

BEGIN = "<!-- settings-table:begin -->"
END = "<!-- settings-table:end -->"


def _default(info: FieldInfo) -> str:
    if info.default_factory is not None:
        return "`./var`" if "data_dir" in str(info.description or "").lower() else "(computed)"
    value = info.default
    if value is None:
        return "unset"
    text = str(value.get_secret_value() if hasattr(value, "get_secret_value") else value)
    return f"`{text}`" if text else '`""`'


def _section(info: FieldInfo) -> type[BaseModel] | None:
    """The model of a nested settings section (``TANDEM_<SECTION>__<FIELD>``), else None."""
    kind = info.annotation
    return kind if isinstance(kind, type) and issubclass(kind, BaseModel) else None


def variables(fields: dict[str, FieldInfo]) -> Iterator[tuple[str, FieldInfo]]:
    """Each environment variable of ``fields`` with its field; a section gives one per sub-field."""
    for name, info in fields.items():
        section = _section(info)
        if section is None:
            yield f"TANDEM_{name.upper()}", info
        else:
            for sub, sub_info in section.model_fields.items():
                yield f"TANDEM_{name.upper()}__{sub.upper()}", sub_info


def render() -> str:
    rows = ["| variable | side | default | meaning |", "|---|---|---|---|"]
    common = CommonSettings.model_fields
    sides: list[tuple[str, dict[str, FieldInfo]]] = [
        ("both", dict(common)),
        ("batch", {k: v for k, v in BatchSettings.model_fields.items() if k not in common}),
        ("release", dict(ReleaseSettings.model_fields)),
        ("online", {k: v for k, v in OnlineSettings.model_fields.items() if k not in common}),
    ]
    for side, fields in sides:
        for var, info in variables(fields):
            default = "`./var`" if var == "TANDEM_DATA_DIR" else _default(info)
            rows.append(f"| `{var}` | {side} | {default} | {info.description or ''} |")
    return "\n".join(rows)


def update_readme(readme: Path) -> bool:
    text = readme.read_text()
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    new = f"{head}{BEGIN}\n{render()}\n{END}{tail}"
    changed = new != text
    readme.write_text(new)
    return changed


def main() -> int:
    readme = project_root() / "README.md"
    changed = update_readme(readme)
    print(f"{'updated' if changed else 'unchanged'}: {readme}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
