"""Export every contract's JSON Schema into the package: ``python -m shared_schemas.export``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from shared_schemas import ALL_MODELS

SCHEMA_DIR = Path(__file__).parent / "json"


def rendered() -> dict[str, str]:
    """File name -> JSON text for every model at its current version."""
    out: dict[str, str] = {}
    for model in ALL_MODELS:
        name = f"{model.__name__}.v{model.SCHEMA_VERSION}.json"
        out[name] = json.dumps(model.json_schema(), indent=2, sort_keys=True) + "\n"
    return out


def drift() -> list[str]:
    """Names of exported schema files that are missing or differ from the models."""
    problems = []
    for name, text in rendered().items():
        path = SCHEMA_DIR / name
        if not path.exists() or path.read_text() != text:
            problems.append(name)
    return problems


def write() -> list[str]:
    SCHEMA_DIR.mkdir(exist_ok=True)
    written = []
    for name, text in rendered().items():
        (SCHEMA_DIR / name).write_text(text)
        written.append(name)
    return written


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if "--check" in args:
        bad = drift()
        for name in bad:
            print(f"schema drift: {name} (run `python -m shared_schemas.export`)")
        return 1 if bad else 0
    for name in write():
        print(f"wrote {SCHEMA_DIR / name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
