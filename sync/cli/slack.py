"""``mcm-sync slack manifest``: the Slack app manifest for this setup, ready to paste."""

from __future__ import annotations

from pathlib import Path

import click

from sync.api.hosting import slack_manifest
from sync.cli.support.helptext import HelpGroup
from sync.cli.support.i18n import texts
from sync.core.errors import UserError


@click.group("slack", cls=HelpGroup)
def slack() -> None:
    """The Slack app: its manifest for a workspace admin."""


@slack.command("manifest")
@click.option("--public-url", default="", help="The https:// address that reaches `mcm-sync "
              "serve` (real_time: serve): Slack calls its /hooks/slack/... endpoints.")
@click.option("--socket-mode", is_flag=True, help="Real time over Socket Mode (real_time: "
              "socket_mode): no public URL.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write to this file instead of standard output.")
def manifest(public_url: str, socket_mode: bool, output: Path | None) -> None:
    """Print the Slack app manifest to paste in Create New App > From an app manifest.

    Without options: for a scheduled `mcm-sync sync` only (real_time: none), with no URLs,
    events, buttons or /alliance. With --public-url URL: for `mcm-sync serve` at URL. With
    --socket-mode: for `mcm-sync serve --socket-mode`. The scopes are the same in all three.
    """
    if public_url and socket_mode:
        raise UserError("--public-url and --socket-mode exclude each other",
                        hint="Socket Mode needs no public URL: drop --public-url")
    mode = "socket_mode" if socket_mode else "serve" if public_url else "none"
    text = slack_manifest(mode, public_url or None)
    if output is None:
        click.echo(text, nl=False)
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    click.echo(texts().gettext("wrote %(path)s (%(mode)s)")
               % {"path": output, "mode": mode.replace("_", " ")})
