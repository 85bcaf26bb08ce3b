"""Settings of the refinement path: the ``refine_*`` fields of ``OnlineSettings``."""

from __future__ import annotations

from online.settings import OnlineSettings

#: the worker and the service read the same settings object
RefineSettings = OnlineSettings
