"""The tables, one module per concept. Import models from here."""

from gateway.models.api_client import ApiClient, ApiClientStatus
from gateway.models.auth import RefreshToken
from gateway.models.cooperative import Cooperative, CooperativeKind
from gateway.models.idempotency import IdempotencyKey, IdempotencyKeyState
from gateway.models.ledger import Account, AccountKind, Event, Transfer
from gateway.models.merchant import Merchant, MerchantCategory, MerchantKind
from gateway.models.payments import (
    FeeSchedule,
    LimitPolicy,
    Payment,
    PaymentStatus,
    QrCode,
    QrKind,
    QrStatus,
    Refund,
)
from gateway.models.people import (
    Invitation,
    InvitationRole,
    InvitationStatus,
    Member,
    MemberTier,
    PhonePinAttempts,
    Role,
    StaffRole,
    User,
)
from gateway.models.settlement import AuditEvent, SettlementWindow, WindowStatus
from gateway.models.shift import ShiftStatus, TellerShift, TellerShiftEvent
from gateway.models.shu import MemberSavings, ShuPolicy, ShuRun, ShuRunShare, ShuRunStatus
from gateway.models.webhooks import (
    DeliveryStatus,
    EndpointStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEventType,
    WebhookMessage,
    WebhookSubscription,
)

__all__ = [
    "ApiClient",
    "ApiClientStatus",
    "AuditEvent",
    "SettlementWindow",
    "WindowStatus",
    "FeeSchedule",
    "LimitPolicy",
    "Payment",
    "PaymentStatus",
    "QrCode",
    "QrKind",
    "QrStatus",
    "Refund",
    "Account",
    "AccountKind",
    "Cooperative",
    "CooperativeKind",
    "Event",
    "IdempotencyKey",
    "IdempotencyKeyState",
    "Invitation",
    "InvitationRole",
    "InvitationStatus",
    "Member",
    "MemberTier",
    "Merchant",
    "MerchantCategory",
    "MerchantKind",
    "PhonePinAttempts",
    "RefreshToken",
    "Role",
    "StaffRole",
    "Transfer",
    "User",
    "DeliveryStatus",
    "EndpointStatus",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookEventType",
    "WebhookMessage",
    "WebhookSubscription",
    "MemberSavings",
    "ShuPolicy",
    "ShuRun",
    "ShuRunShare",
    "ShuRunStatus",
    "ShiftStatus",
    "TellerShift",
    "TellerShiftEvent",
]
