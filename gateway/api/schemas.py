"""Request and response models: validation at the edge, and the OpenAPI document's schemas.

Requests are strict: an amount is a JSON integer of rupiah (not a string, not 1.0, not a bool),
above zero and at most `money.AMOUNT_MAX`; unknown fields are refused, and so are strings with
control characters. Every text a client sends that another person is shown (a person's,
merchant's or cooperative's name, a QR's reference) passes one validator, `shown_text`.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from gateway import phones
from gateway.models import (
    CooperativeKind,
    MemberTier,
    MerchantCategory,
    MerchantKind,
    WebhookEventType,
)
from gateway.money import AMOUNT_MAX

Phone = Annotated[str, Field(min_length=8, max_length=20), AfterValidator(phones.normalize)]
Pin = Annotated[str, Field(pattern=r"^[0-9]{6}$", description="six digits")]
Amount = Annotated[int, Field(gt=0, le=AMOUNT_MAX, description="integer rupiah")]
PublicId = Annotated[str, Field(min_length=1, max_length=32)]


class RefusedText(ValueError):
    """Refuse a text with a sentence for a person, in Bahasa Indonesia and English."""

    def __init__(self, message_en: str, message_id: str) -> None:
        super().__init__(message_en)
        self.message_en = message_en
        self.message_id = message_id


# Letters that draw nothing (Hangul fillers): a name of them looks blank, or like another name.
INVISIBLE_LETTERS = frozenset("\u115f\u1160\u3164\uffa0")
# Format characters (Cf: direction overrides and isolates, zero-width spaces and joiners, the
# byte order mark, ...) and line or paragraph separators change how the text around them looks
# without showing themselves: "Toko \u202eirS uB" is displayed as "Toko Bu Sri".
REFUSED_CATEGORIES = frozenset({"Cf", "Zl", "Zp"})


def shown_text(value: str, info: ValidationInfo) -> str:
    """Return `value` in NFC; refuse invisible formatting and text with nothing legible.

    The one check for every text a client sends that is shown to another person (on the pay
    screen, a receipt, a merchant's feed): a payer must see what the merchant really is called.
    """
    field = info.field_name
    value = unicodedata.normalize("NFC", value)
    if any(
        unicodedata.category(character) in REFUSED_CATEGORIES or character in INVISIBLE_LETTERS
        for character in value
    ):
        raise RefusedText(
            f"The field {field} must not contain invisible formatting characters (text direction"
            " controls, zero-width characters).",
            f"Kolom {field} tidak boleh berisi karakter format tak terlihat (pengatur arah teks,"
            " karakter lebar nol).",
        )
    if not any(unicodedata.category(character)[0] in "LN" for character in value):
        raise RefusedText(
            f"The field {field} must contain a letter or a digit.",
            f"Kolom {field} harus berisi huruf atau angka.",
        )
    return value


Name = Annotated[str, Field(min_length=1, max_length=120), AfterValidator(shown_text)]


# Unicode's control characters (category Cc): C0, DEL and C1. One regular expression scans a
# 400-character QR token in C instead of a category lookup per character in Python.
CONTROL_CHARACTERS = re.compile("[\x00-\x1f\x7f-\x9f]")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    @field_validator("*")
    @classmethod
    def _no_control_characters(cls, value):
        """Refuse NUL and other control characters: PostgreSQL cannot store or compare a NUL."""
        if isinstance(value, str) and CONTROL_CHARACTERS.search(value):
            raise ValueError("must not contain control characters")
        return value


class LoginRequest(Strict):
    phone: Phone
    pin: Pin


class RefreshRequest(Strict):
    refresh_token: Annotated[str, Field(min_length=1, max_length=200)]


class TokenResponse(BaseModel):
    access_token: str
    token_type: str
    expires_in: int
    refresh_token: str


class MeResponse(BaseModel):
    id: str
    name: str
    phone: str
    roles: list[str]
    cooperative_id: str | None
    member_id: str | None
    merchant_ids: list[str]
    admin_cooperative_ids: list[str]
    wallet_balance: int | None


class CooperativeRequest(Strict):
    code: Annotated[str, Field(pattern=r"^[A-Z0-9]{2,16}$")]
    name: Name
    kind: CooperativeKind


class CooperativeResponse(BaseModel):
    id: str
    code: str
    name: str
    kind: str


class CooperativeList(BaseModel):
    items: list[CooperativeResponse]


class MemberRequest(Strict):
    phone: Phone
    name: Name
    pin: Pin
    tier: MemberTier = MemberTier.BASIC


class MemberResponse(BaseModel):
    id: str
    name: str
    phone: str
    tier: str
    cooperative_id: str
    wallet_account_id: str
    created_at: str


class MemberList(BaseModel):
    items: list[MemberResponse]
    next_cursor: str | None


class MerchantRequest(Strict):
    name: Name
    kind: MerchantKind
    category: MerchantCategory = MerchantCategory.MICRO
    owner_phone: Phone
    owner_name: Name
    owner_pin: Pin


class MerchantResponse(BaseModel):
    id: str
    name: str
    kind: str
    category: str
    cooperative_id: str
    account_id: str
    owner_phone: str
    created_at: str


class MerchantList(BaseModel):
    items: list[MerchantResponse]
    next_cursor: str | None


CounterId = Annotated[
    PublicId | None,
    Field(description="the counter's cooperative; needed only by an admin of several"),
]


class CashInRequest(Strict):
    member_id: PublicId
    amount: Amount
    counter_cooperative_id: CounterId = None


class CashOutRequest(Strict):
    member_id: PublicId
    amount: Amount
    pin: Pin
    counter_cooperative_id: CounterId = None


class PayoutRequest(Strict):
    merchant_id: PublicId
    amount: Amount
    counter_cooperative_id: CounterId = None


class TransferResponse(BaseModel):
    id: str
    debit_account: str
    credit_account: str
    amount: int
    code: str


class CounterCooperative(BaseModel):
    id: str
    name: str


class CounterParty(BaseModel):
    """Who the cash was for: the member, or the merchant paid out."""

    id: str
    name: str
    cooperative: CounterCooperative


class CounterTeller(BaseModel):
    name: str


class CounterReceipt(BaseModel):
    """What a printed proof (bukti setor / tarik tunai, a payout's slip) needs."""

    event_id: str
    kind: str
    created_at: str
    amount: int
    balance: int = Field(description="the member's (or merchant's) balance after this event")
    counter: CounterCooperative = Field(description="the cooperative whose counter it was")
    teller: CounterTeller
    member: CounterParty | None = None
    merchant: CounterParty | None = None
    transfers: list[TransferResponse]


# A name search needs this many characters: no way to list a cooperative's members by a letter.
NAME_QUERY_LENGTH_MIN = 3


def _search_text(value: str) -> str:
    value = " ".join(value.split())
    if len(value) < NAME_QUERY_LENGTH_MIN:
        raise RefusedText(
            f"Type at least {NAME_QUERY_LENGTH_MIN} letters of the name.",
            f"Ketik sedikitnya {NAME_QUERY_LENGTH_MIN} huruf dari nama.",
        )
    return value


SearchText = Annotated[str, Field(max_length=120), AfterValidator(_search_text)]


class _OneOfPhoneOrName(Strict):
    @model_validator(mode="after")
    def _exactly_one(self):
        if (self.phone is None) == (self.name is None):
            raise RefusedText(
                "Search by phone or by name: give exactly one of them.",
                "Cari dengan nomor HP atau nama: isi salah satu saja.",
            )
        return self


class MemberSearch(_OneOfPhoneOrName):
    """The query of a counter's member search: exactly one of phone and name."""

    phone: Phone | None = Field(default=None, description="exact; any member of the network")
    name: SearchText | None = Field(
        default=None, description="part of the name, any case; the counter's own members only"
    )
    counter_cooperative_id: CounterId = None


class MerchantSearch(_OneOfPhoneOrName):
    """The query of a counter's merchant search (its own cooperative's merchants only)."""

    phone: Phone | None = Field(default=None, description="the owner's phone, exact")
    name: SearchText | None = Field(default=None, description="part of the name, any case")
    counter_cooperative_id: CounterId = None


class CounterQuery(Strict):
    counter_cooperative_id: CounterId = None


class FoundMember(BaseModel):
    id: str
    name: str
    cooperative: CounterCooperative
    tier: str
    phone_masked: str = Field(description="e.g. +62812****0003")


class FoundMemberList(BaseModel):
    items: list[FoundMember]
    more: bool = Field(description="more matched than are listed: type more of the name")


class FoundMerchant(BaseModel):
    id: str
    name: str
    kind: str
    category: str
    cooperative: CounterCooperative
    owner_name: str
    owner_phone_masked: str


class FoundMerchantList(BaseModel):
    items: list[FoundMerchant]
    more: bool


class StatementMerchant(BaseModel):
    id: str
    name: str
    cooperative: CounterCooperative


class StatementEntry(BaseModel):
    id: str = Field(description="the wallet's transfer")
    event_id: str
    kind: str = Field(description="payment, refund, cash_in or cash_out")
    created_at: str
    amount: int = Field(description="signed: positive credits the wallet")
    balance_after: int
    payment_id: str | None = None
    refund_id: str | None = None
    merchant: StatementMerchant | None = Field(
        default=None, description="paid, or refunding: for a payment or a refund"
    )
    counter: CounterCooperative | None = Field(
        default=None, description="the cooperative whose counter it was: for cash in or out"
    )


class StatementResponse(BaseModel):
    member_id: str
    account_id: str
    balance: int
    opening_balance: int = Field(description="the wallet's balance before the period's first day")
    closing_balance: int = Field(
        description="the balance at the end of the period (with no `to`: the ledger's balance now)"
    )
    items: list[StatementEntry]
    next_cursor: str | None


class WalletTransfer(BaseModel):
    id: str
    event_id: str
    code: str
    amount: int = Field(description="signed: positive credits the wallet")
    created_at: str


class WalletResponse(BaseModel):
    member_id: str
    account_id: str
    balance: int
    transfers: list[WalletTransfer]


Token = Annotated[str, Field(min_length=1, max_length=4096)]


class DynamicQrRequest(Strict):
    amount: Amount
    reference: (
        Annotated[str, Field(min_length=1, max_length=64), AfterValidator(shown_text)] | None
    ) = None
    ttl_seconds: int | None = Field(default=None, description="60 to 3600; default 600")


class QrResponse(BaseModel):
    id: str
    kind: str
    status: str
    token: str
    url: str
    png_url: str
    svg_url: str
    amount: int | None = None
    reference: str | None = None
    expires_at: str | None = None


class QrVerifyRequest(Strict):
    token: Token


class QrCooperative(BaseModel):
    id: str
    name: str


class QrMerchant(BaseModel):
    id: str
    name: str
    kind: str
    cooperative: QrCooperative


class QrVerifyResponse(BaseModel):
    id: str
    kind: str
    merchant: QrMerchant
    amount: int | None = None
    expires_at: str | None = None
    reference: str | None = None


class PaymentRequest(Strict):
    token: Token
    amount: Amount | None = None
    pin: Pin | None = None


class PaymentMerchant(BaseModel):
    id: str
    name: str
    kind: str
    cooperative: str


class PaymentFees(BaseModel):
    issuer: int
    acquirer: int
    network: int


class PaymentPayer(BaseModel):
    id: str
    name: str


class PaymentResponse(BaseModel):
    id: str
    status: str
    amount: int
    fee_amount: int
    fees: PaymentFees
    refunded_amount: int
    qr_id: str = Field(description="the QR code paid: a shop's sale screen waits for its own")
    merchant: PaymentMerchant
    payer: PaymentPayer
    payer_cooperative: str
    merchant_cooperative: str
    created_at: str
    event_id: str | None = None
    balance: int | None = None


class PaymentList(BaseModel):
    items: list[PaymentResponse]
    next_cursor: str | None
    feed_cursor: str | None = Field(
        default=None, description="on a first page: pass as after= to follow the live feed"
    )


class RefundRequest(Strict):
    amount: Amount | None = None


class RefundResponse(BaseModel):
    id: str
    payment_id: str
    event_id: str
    amount: int
    fees_returned: dict[str, int]
    payment: PaymentResponse
    created_at: str


class LimitsResponse(BaseModel):
    tier: str
    payment_max: int
    no_pin_max: int
    daily_max: int
    daily_remaining: int
    monthly_max: int
    monthly_remaining: int
    balance_max: int
    balance_room: int
    incoming_monthly_max: int
    incoming_monthly_remaining: int
    payments_per_minute: int


# --- Webhooks ---------------------------------------------------------------------------------

WebhookUrl = Annotated[
    str,
    Field(min_length=1, max_length=2048, description="https:// (or http://) on a public host"),
]
WebhookEvents = Annotated[
    list[WebhookEventType],
    Field(min_length=1, max_length=len(WebhookEventType), description="event types to receive"),
]


class WebhookEndpointRequest(Strict):
    url: WebhookUrl
    events: WebhookEvents


class WebhookEndpointUpdate(Strict):
    url: WebhookUrl | None = None
    events: WebhookEvents | None = None


class WebhookEndpointResponse(BaseModel):
    id: str
    cooperative_id: str | None = Field(description="null for a network-wide endpoint")
    url: str
    events: list[str]
    status: str
    disabled_reason: str | None
    previous_secret_expires_at: str | None = Field(
        description="during a rotation: until when the previous secret signs too"
    )
    created_at: str
    updated_at: str


class WebhookEndpointCreated(WebhookEndpointResponse):
    secret: str = Field(description="whsec_…: shown this once")


class WebhookEndpointList(BaseModel):
    items: list[WebhookEndpointResponse]


class WebhookReplayRequest(Strict):
    since: AwareDatetime | None = Field(
        default=None, description="resend the failed events written since this time"
    )
    event_id: PublicId | None = Field(
        default=None, description="resend this one event (webhook-id), delivered or failed"
    )


class WebhookReplayResponse(BaseModel):
    replayed: int


class WebhookDeliveryResponse(BaseModel):
    event_id: str = Field(description="the webhook-id")
    type: str
    status: str
    attempt_count: int
    next_attempt_at: str | None
    last_attempt_at: str | None
    last_status_code: int | None
    last_error: str | None
    delivered_at: str | None
    created_at: str


class WebhookDeliveryList(BaseModel):
    items: list[WebhookDeliveryResponse]
    next_cursor: str | None


class WebhookAttemptResponse(BaseModel):
    attempt_number: int
    attempted_at: str
    status_code: int | None
    error: str | None
    duration_ms: int | None


class WebhookDeliveryDetail(WebhookDeliveryResponse):
    attempts: list[WebhookAttemptResponse]


class WebhookEventResponse(BaseModel):
    id: str = Field(description="the webhook-id")
    type: str
    timestamp: str
    data: dict


# --- The teller's shift (gateway/shifts.py) ---------------------------------------------------

CashAmount = Annotated[
    int, Field(ge=0, le=AMOUNT_MAX, description="integer rupiah counted in the drawer; 0 allowed")
]


class ShiftOpenRequest(Strict):
    opening_cash_amount: CashAmount
    counter_cooperative_id: CounterId = None


class ShiftCloseRequest(Strict):
    counted_cash_amount: CashAmount
    pin: Pin = Field(description="the teller's own PIN: the teller's sign-off")


class ShiftApproveRequest(Strict):
    pin: Pin = Field(description="the second admin's own PIN: their sign-off")


class ShiftPolicyRequest(Strict):
    shift_difference_threshold: CashAmount


class ShiftPolicyResponse(BaseModel):
    shift_difference_threshold: int = Field(
        description="a shift whose counted cash differs from the expected by more than this"
        " (either way) needs a second admin's sign-off"
    )


class ShiftPerson(BaseModel):
    name: str


class ShiftResponse(BaseModel):
    id: str
    status: str = Field(description="open, counted (waiting for a second admin) or closed")
    counter: CounterCooperative
    teller: ShiftPerson
    opened_at: str
    opening_cash_amount: int
    cash_in_amount: int
    cash_out_amount: int
    payout_amount: int
    expected_cash_amount: int = Field(
        description="opening cash + cash in − cash out − payouts (live while open)"
    )
    counted_cash_amount: int | None
    difference_amount: int | None = Field(description="counted − expected; negative: short")
    difference_threshold: int
    second_sign_off_required: bool
    counted_at: str | None
    approved_by: ShiftPerson | None
    approved_at: str | None
    closed_at: str | None


class CurrentShift(BaseModel):
    shift: ShiftResponse | None = Field(description="the caller's open shift, or null")


class ShiftList(BaseModel):
    items: list[ShiftResponse]


class ShiftMovement(BaseModel):
    event_id: str
    created_at: str
    kind: str = Field(description="cash_in, cash_out or payout")
    party: str = Field(description="the member's or merchant's name")
    amount: int
    drawer_cash_amount: int = Field(description="what the drawer should hold after it")


class ShiftReport(ShiftResponse):
    movements: list[ShiftMovement]


class ShiftListQuery(Strict):
    status: Literal["open", "counted", "closed"] | None = None
    counter_cooperative_id: CounterId = None
