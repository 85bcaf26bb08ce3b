"""Release commands: blue-green switch and rollback of the online tier, the A/B report.

- ``commands.py``: the typer commands (thin: options, settings, messages);
- ``bluegreen.py``: one switch or rollback, following the cluster when a context is set;
- ``manifest.py``: reading and editing the blue-green Service manifest (pure file work);
- ``kubectl.py``: running kubectl with a timeout, and its errors;
- ``ab_collect.py`` / ``ab_render.py``: building the A/B report from Redis, printing it;
- ``settings.py``: ``ReleaseSettings`` (``TANDEM_KUBE_CONTEXT``, ``TANDEM_RELEASE_MANIFEST``,
  ``TANDEM_ROLLOUT_TIMEOUT_S``).
"""

from __future__ import annotations

import typer

from tandem_cli.release.commands import (
    ab_app,
    ab_report,
    release_app,
    release_rollback,
    release_status,
    release_switch,
)


def register(app: typer.Typer) -> None:
    release_app.command("switch")(release_switch)
    release_app.command("rollback")(release_rollback)
    release_app.command("status")(release_status)
    ab_app.command("report")(ab_report)
    app.add_typer(release_app, name="release")
    app.add_typer(ab_app, name="ab")
