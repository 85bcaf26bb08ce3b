"""Render the configuration table in the README from the two settings objects.

``python -m tandem_cli.settings_doc`` rewrites the table between the markers in README.md;
a test fails when the README and the settings disagree.
"""

from __future__ import annotations

import sys
from pathlib import Path

from pydantic.fields import FieldInfo

from batch.settings import BatchSettings
from online.settings import OnlineSettings
from shared_schemas.config import CommonSettings, project_root

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


def render() -> str:
    rows = ["| variable | side | default | meaning |", "|---|---|---|---|"]
    common = CommonSettings.model_fields
    sides: list[tuple[str, dict[str, FieldInfo]]] = [
        ("both", dict(common)),
        ("batch", {k: v for k, v in BatchSettings.model_fields.items() if k not in common}),
        ("online", {k: v for k, v in OnlineSettings.model_fields.items() if k not in common}),
    ]
    for side, fields in sides:
        for name, info in fields.items():
            default = "`./var`" if name == "data_dir" else _default(info)
            rows.append(
                f"| `TANDEM_{name.upper()}` | {side} | {default} | {info.description or ''} |"
            )
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
