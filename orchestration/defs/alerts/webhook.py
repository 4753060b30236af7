"""The alert webhook as a Dagster resource: one JSON POST per alert, through httpx with a
timeout. The URL is a secret (it carries the channel's token): it reaches the resource as
``dg.EnvVar`` and no error message repeats it."""

from collections.abc import Mapping

import dagster as dg
import httpx

from orchestration.settings import ALERT_TIMEOUT_SECONDS, ALERT_WEBHOOK_VARIABLE


class AlertDeliveryError(RuntimeError):
    """The webhook did not accept an alert; the message names the cause, never the URL."""


class AlertWebhook(dg.ConfigurableResource):
    """Where alerts go: ``url`` empty means alerts are off."""

    url: str = ""
    timeout_seconds: float = ALERT_TIMEOUT_SECONDS

    @property
    def enabled(self) -> bool:
        """Whether a webhook URL is configured."""
        return bool(self.url)

    @property
    def disabled_reason(self) -> str:
        """Why nothing is sent, for a sensor's skip message."""
        return f"{ALERT_WEBHOOK_VARIABLE} is not set: no alert is sent"

    def post(self, payload: Mapping[str, object]) -> None:
        """POST ``payload`` as JSON; raise :class:`AlertDeliveryError` unless the answer is 2xx."""
        try:
            response = httpx.post(self.url, json=dict(payload), timeout=self.timeout_seconds)
        except httpx.HTTPError as exc:
            raise AlertDeliveryError(
                f"the alert webhook ({ALERT_WEBHOOK_VARIABLE}) could not be reached: "
                f"{type(exc).__name__}"
            ) from None
        if not response.is_success:
            raise AlertDeliveryError(
                f"the alert webhook ({ALERT_WEBHOOK_VARIABLE}) answered HTTP {response.status_code}"
            )
