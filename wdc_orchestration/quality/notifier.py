"""Alerts: a line in a log file by default, a JSON POST to a webhook when WDC_ALERT_WEBHOOK_URL is
set (Slack/Teams/any HTTP endpoint). Chosen from the environment when an alert is sent."""

from __future__ import annotations

import json
import logging
import os
import urllib.request
from pathlib import Path
from typing import Protocol

from wdc_orchestration.quality.incidents import Incident

log = logging.getLogger(__name__)

WEBHOOK_ENV = "WDC_ALERT_WEBHOOK_URL"
ALERT_LOG_NAME = "alerts.log"


class Notifier(Protocol):
    def send(self, incident: Incident) -> None:
        """Deliver the alert or raise (the caller retries on its next tick)."""


def alert_text(incident: Incident) -> str:
    where = f"{incident.asset} [{', '.join(incident.partitions) or '-'}]"
    moved = (
        f"; raw quarantined to {', '.join(incident.quarantined)}" if incident.quarantined else ""
    )
    return (
        f"[{incident.severity}] {incident.kind} {incident.check} on {where}: "
        f"{incident.description} ({incident.rows_affected} rows affected{moved}; "
        f"run {incident.run_id}; incident {incident.incident_id})"
    )


class LogFileNotifier:
    """Appends one JSON line per alert to `<WDC_LOG_DIR>/alerts.log`."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def send(self, incident: Incident) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = {"text": alert_text(incident), **incident.to_json()}
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(line) + "\n")
        log.warning("alert: %s", alert_text(incident))


class WebhookNotifier:
    """POSTs `{"text": ..., "incident": {...}}` to a URL (a Slack-compatible `text` field)."""

    def __init__(self, url: str, timeout_seconds: float = 10.0) -> None:
        self.url = url
        self.timeout_seconds = timeout_seconds

    def send(self, incident: Incident) -> None:
        body = json.dumps({"text": alert_text(incident), "incident": incident.to_json()}).encode()
        request = urllib.request.Request(
            self.url, data=body, headers={"Content-Type": "application/json"}, method="POST"
        )
        with urllib.request.urlopen(request, timeout=self.timeout_seconds) as response:  # noqa: S310
            if response.status >= 300:
                raise RuntimeError(f"webhook answered {response.status}")


def notifier_from_env(log_dir: Path) -> Notifier:
    """The webhook of WDC_ALERT_WEBHOOK_URL (a secret: read when alerting, never a resource's
    field), else the alert log in `log_dir` (the caller's settings)."""
    url = os.environ.get(WEBHOOK_ENV, "").strip()
    if url:
        return WebhookNotifier(url)
    return LogFileNotifier(log_dir / ALERT_LOG_NAME)
