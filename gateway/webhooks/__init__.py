"""Signed job webhooks (Standard Webhooks) delivered through the durable outbox."""

from gateway.webhooks.dispatcher import WEBHOOK_KIND, WebhookDispatcher, WebhookSender
from gateway.webhooks.events import JOB_EVENT_TYPES, WebhookSubscription, enqueue_webhook
from gateway.webhooks.signing import sign_webhook, signature_headers

__all__ = [
    "JOB_EVENT_TYPES",
    "WEBHOOK_KIND",
    "WebhookDispatcher",
    "WebhookSender",
    "WebhookSubscription",
    "enqueue_webhook",
    "sign_webhook",
    "signature_headers",
]
