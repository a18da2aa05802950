"""Notifications: each record of a topic, filtered and shaped, sent to a webhook, a
Slack channel or an e-mail address, at least once, with retries; what cannot be
delivered is parked on a failure topic. Declared with ``app.notify(topic, to=URL)``.
"""

from __future__ import annotations

from logway.notify.runner import NotifyRunner, NotifySpec, run_notifications
from logway.notify.settings import NotifySettings
from logway.notify.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign, verify
from logway.notify.targets import IDEMPOTENCY_HEADER, SendError

__all__ = [
    "IDEMPOTENCY_HEADER",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "NotifyRunner",
    "NotifySettings",
    "NotifySpec",
    "SendError",
    "run_notifications",
    "sign",
    "verify",
]
