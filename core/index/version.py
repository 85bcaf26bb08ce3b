"""Index version names: built and parsed here, nowhere else.

A version is ``<YYYYMMDD>-<first 8 hex of the chunk-set digest>``: the same date and the same
chunk set give the same name, so re-running a date is idempotent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

_VERSION = re.compile(r"^(\d{4})(\d{2})(\d{2})-([0-9a-f]{8})$")


@dataclass(frozen=True, order=True)
class IndexVersion:
    day: date
    digest8: str

    @classmethod
    def of(cls, run_date: date | str, digest: str) -> IndexVersion:
        """The version of a chunk set (``digest``: its sha256 hex) built on ``run_date``."""
        day = run_date if isinstance(run_date, date) else date.fromisoformat(run_date)
        if len(digest) < 8 or not re.fullmatch(r"[0-9a-f]+", digest):
            raise ValueError(f"chunk-set digest must be lower-case hex, got {digest!r}")
        return cls(day=day, digest8=digest[:8])

    @classmethod
    def parse(cls, name: str) -> IndexVersion:
        """The version a name spells; ValueError for anything else."""
        m = _VERSION.fullmatch(name)
        if not m:
            raise ValueError(f"{name!r} is not an index version name (YYYYMMDD-xxxxxxxx)")
        return cls(day=date(int(m[1]), int(m[2]), int(m[3])), digest8=m[4])

    @classmethod
    def try_parse(cls, name: str) -> IndexVersion | None:
        try:
            return cls.parse(name)
        except ValueError:
            return None

    @property
    def name(self) -> str:
        return f"{self.day:%Y%m%d}-{self.digest8}"

    def __str__(self) -> str:
        return self.name
