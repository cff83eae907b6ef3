"""The gateway's errors: one small hierarchy, each with a stable problem type and a sentence.

Every error a client can cause is a `GatewayError`. The API turns it into an RFC 9457
problem+json document: `type` is stable (clients switch on it), `status` is the HTTP status,
`title` is short, and `detail` is a sentence fit to show a person, in Bahasa Indonesia by default
and in English when the client asks for it (`Accept-Language: en`).
"""

from __future__ import annotations

PROBLEM_BASE = "https://interkop.id/problems/"


class GatewayError(Exception):
    """Refuse a request; nothing it asked for has been written."""

    status = 400
    slug = "bad-request"
    title = "Bad request"
    message_id = "Permintaan tidak dapat diproses."
    message_en = "The request cannot be processed."
    # Work to commit in a transaction of its own after the request's transaction rolled back
    # (counting a wrong PIN, revoking a stolen refresh token family).
    follow_up = None
    # A refusal about the credentials, not the operation (a wrong PIN): the Idempotency-Key is
    # released, so the same key can be retried with the right PIN.
    releases_idempotency_key = False
    # Seconds after which the same request may succeed: sent as the Retry-After header.
    retry_after_seconds: int | None = None
    # How the document is served, and headers sent with it (a WWW-Authenticate challenge). The
    # token endpoint's refusals are OAuth errors served as application/json (RFC 6749 §5.2).
    media_type = "application/problem+json"
    headers: dict[str, str] | None = None

    def __init__(
        self,
        message_en: str | None = None,
        message_id: str | None = None,
        **extensions: object,
    ) -> None:
        if message_en is not None:
            self.message_en = message_en
        if message_id is not None:
            self.message_id = message_id
        self.extensions = extensions
        super().__init__(self.message_en)

    @property
    def type(self) -> str:
        return PROBLEM_BASE + self.slug

    def problem(self, language: str = "id") -> dict:
        """Render the RFC 9457 problem document."""
        detail = self.message_en if language == "en" else self.message_id
        document = {
            "type": self.type,
            "title": self.title,
            "status": self.status,
            "detail": detail,
        }
        document.update(self.extensions)
        return document


class MalformedRequest(GatewayError):
    status = 400
    slug = "malformed-request"
    title = "Malformed request"
    message_id = "Isi permintaan bukan JSON yang sah."
    message_en = "The request body is not valid JSON."


class ValidationFailed(GatewayError):
    status = 422
    slug = "validation-failed"
    title = "Validation failed"
    message_id = "Data yang dikirim tidak sah."
    message_en = "Some of the data sent is not valid."


class AuthenticationRequired(GatewayError):
    status = 401
    slug = "authentication-required"
    title = "Authentication required"
    message_id = "Silakan masuk terlebih dahulu."
    message_en = "Please log in first."


class InvalidToken(GatewayError):
    status = 401
    slug = "invalid-token"
    title = "Invalid token"
    message_id = "Sesi Anda tidak sah atau sudah berakhir. Silakan masuk lagi."
    message_en = "Your session is not valid or has ended. Please log in again."


class InvalidCredentials(GatewayError):
    status = 401
    slug = "invalid-credentials"
    title = "Wrong phone number or PIN"
    message_id = "Nomor HP atau PIN salah."
    message_en = "The phone number or PIN is wrong."


class WrongPin(GatewayError):
    """Refuse a wrong PIN; say how many tries are left before the lock, and for how long it
    holds (the settings in force, as `auth.PinPolicy.wrong` passes them)."""

    status = 403
    releases_idempotency_key = True
    slug = "wrong-pin"
    title = "Wrong PIN"
    message_id = "PIN salah."
    message_en = "The PIN is wrong."

    def __init__(self, *, attempts_left: int, lockout_seconds: int) -> None:
        wait_id, wait_en = _duration(lockout_seconds)
        super().__init__(
            f"Wrong PIN. {_plural(attempts_left, 'try', 'tries')} left before the PIN is locked"
            f" for {wait_en}.",
            f"PIN salah. Sisa {attempts_left} kali percobaan sebelum PIN dikunci {wait_id}.",
            attempts_left=attempts_left,
        )


class PinLocked(GatewayError):
    """Refuse while a person's PIN is locked; the sentence says the settings in force."""

    status = 423
    releases_idempotency_key = True
    slug = "pin-locked"
    title = "PIN locked"

    def __init__(self, *, locked_until: str, attempts_max: int, lockout_seconds: int) -> None:
        wait_id, wait_en = _duration(lockout_seconds)
        super().__init__(
            f"{_plural(attempts_max, 'wrong PIN')} in a row. Try again in {wait_en}.",
            f"PIN salah {attempts_max} kali berturut-turut. Coba lagi dalam {wait_id}.",
            locked_until=locked_until,
        )


def _plural(count: int, noun: str, nouns: str | None = None) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {nouns or noun + 's'}"


def _duration(seconds: int) -> tuple[str, str]:
    """A lockout's length in words, ("15 menit", "15 minutes"); in seconds if not whole minutes."""
    if seconds % 60 == 0:
        minutes = seconds // 60
        return f"{minutes} menit", _plural(minutes, "minute")
    return f"{seconds} detik", _plural(seconds, "second")


class PinCheckBusy(GatewayError):
    status = 409
    releases_idempotency_key = True
    slug = "pin-check-busy"
    title = "Another request is checking this PIN"
    message_id = "Permintaan lain dengan PIN ini sedang diproses. Coba lagi sebentar lagi."
    message_en = "Another request with this PIN is being processed. Try again shortly."


class Forbidden(GatewayError):
    status = 403
    slug = "forbidden"
    title = "Forbidden"
    message_id = "Anda tidak berwenang melakukan ini."
    message_en = "You are not allowed to do this."


class NotFound(GatewayError):
    status = 404
    slug = "not-found"
    title = "Not found"
    message_id = "Data tidak ditemukan."
    message_en = "Not found."


class Conflict(GatewayError):
    status = 409
    slug = "conflict"
    title = "Conflict"
    message_id = "Data sudah ada."
    message_en = "This already exists."


class IdempotencyKeyMissing(GatewayError):
    status = 400
    slug = "idempotency-key-missing"
    title = "Idempotency-Key header required"
    message_id = "Header Idempotency-Key wajib untuk permintaan yang memindahkan uang."
    message_en = "An Idempotency-Key header is required for requests that move money."


class IdempotencyKeyReused(GatewayError):
    status = 422
    slug = "idempotency-key-reused"
    title = "Idempotency-Key reused"
    message_id = "Kunci idempotensi ini sudah dipakai untuk permintaan lain."
    message_en = "This Idempotency-Key was already used for a different request."


class IdempotencyKeyUnknown(GatewayError):
    status = 404
    slug = "idempotency-key-unknown"
    title = "No finished request with this Idempotency-Key"
    message_id = (
        "Gateway tidak punya permintaan yang sudah selesai dengan kunci ini: belum sampai,"
        " gagal tanpa menyimpan apa pun, atau masih diproses."
    )
    message_en = (
        "The gateway has no finished request with this key: it has not arrived, it was rolled"
        " back, or it is still being handled."
    )


class RequestAbandoned(GatewayError):
    """The stored answer of a key its sender gave up: no request with it will ever run."""

    status = 409
    slug = "request-abandoned"
    title = "Request abandoned"
    message_id = "Permintaan ini sudah dibatalkan oleh pengirimnya; tidak ada uang yang berpindah."
    message_en = "This request was abandoned by its sender; no money has moved."


class InsufficientFunds(GatewayError):
    status = 422
    slug = "insufficient-funds"
    title = "Insufficient funds"
    message_id = "Saldo tidak cukup."
    message_en = "The balance is not enough."


class LimitExceeded(GatewayError):
    status = 422
    slug = "limit-exceeded"
    title = "Limit exceeded"
    message_id = "Batas transaksi terlampaui."
    message_en = "A transaction limit would be exceeded."


class ServiceUnavailable(GatewayError):
    status = 503
    slug = "service-unavailable"
    title = "Service unavailable"
    message_id = "Layanan sedang sibuk. Coba lagi sebentar lagi."
    message_en = "The service is busy. Try again shortly."
    retry_after_seconds = 1


class TooManyLongPolls(GatewayError):
    """Refuse a long-poll beyond the bounds of gateway/long_polls.py; retry after a while."""

    status = 429
    slug = "too-many-long-polls"
    title = "Too many waiting requests"
    message_id = (
        "Terlalu banyak permintaan yang sedang menunggu pembayaran baru. Coba lagi dalam beberapa"
        " detik."
    )
    message_en = (
        "Too many requests are already waiting for new payments. Try again in a few seconds."
    )

    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__(retry_after_seconds=retry_after_seconds)
        self.retry_after_seconds = retry_after_seconds
