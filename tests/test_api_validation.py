"""Bad input at the edge: every request a client can get wrong is refused with a 4xx RFC 9457
problem+json document, and writes nothing.

One table of (endpoint, bad input, expected problem) cases; each runs against a small town built
afresh (one cooperative with its admin, a member and a merchant, plus a network admin), on SQLite
and on PostgreSQL. Each case counts the rows that matter before and after.
"""

from __future__ import annotations

import io
import json
import re
import uuid
from dataclasses import dataclass
from dataclasses import field as dataclass_field

import pytest

from gateway.models import IdempotencyKey, Member, Merchant, Transfer, User
from gateway.money import AMOUNT_MAX

COUNTED = (Transfer, Member, Merchant, User, IdempotencyKey)
PROBLEM_TYPE = re.compile(r"^https://interkop\.id/problems/[a-z0-9]+(-[a-z0-9]+)*$")

UNKNOWN_MEMBER = "mem_aaaaaaaaaaaaaaaa"
UNKNOWN_MERCHANT = "mch_aaaaaaaaaaaaaaaa"
UNKNOWN_COOP = "coop_aaaaaaaaaaaaaaaa"


class Raw(bytes):
    """A body sent as these exact bytes, as application/json."""


NO_BODY = object()
AUTO_KEY = "auto"


@dataclass(frozen=True)
class Case:
    id: str
    method: str
    path: str
    body: object = NO_BODY
    status: int = 422
    slug: str = "validation-failed"
    field: str | None = None  # for validation-failed: the field the errors name
    caller: str = "admin"  # admin | network_admin | member | anonymous
    key: str | None = AUTO_KEY  # Idempotency-Key; AUTO_KEY: a fresh one on money POSTs
    # A refusal by the use case itself (an unknown member) is the Idempotency-Key's stored
    # answer, by design (gateway/idempotency.py, point 3): one IdempotencyKey row, nothing else.
    stores_key: bool = False
    headers: dict = dataclass_field(default_factory=dict)


# --- The table -------------------------------------------------------------------------------

COUNTER = "/api/v1/counter"
MONEY = {
    "cash-in": (f"{COUNTER}/cash-in", {"member_id": "{member}", "amount": 1000}),
    "cash-out": (f"{COUNTER}/cash-out", {"member_id": "{member}", "amount": 1000, "pin": "123456"}),
    "payouts": (f"{COUNTER}/payouts", {"merchant_id": "{merchant}", "amount": 1000}),
}
MEMBER_BODY = {"phone": "081299990001", "name": "Siti", "pin": "246810", "tier": "basic"}
MERCHANT_BODY = {
    "name": "Warung Bu Sri",
    "kind": "shop",
    "category": "micro",
    "owner_phone": "081299990002",
    "owner_name": "Sri",
    "owner_pin": "135790",
}
COOPERATIVE_BODY = {"code": "KNEW", "name": "Koperasi Baru", "kind": "consumer"}
LOGIN_BODY = {"phone": "081299990003", "pin": "123456"}


def with_(body: dict, **changes) -> dict:
    return {**body, **changes}


def without(body: dict, name: str) -> dict:
    return {key: value for key, value in body.items() if key != name}


def body_cases(prefix: str, method: str, path: str, base: dict, caller: str) -> list[Case]:
    """What any JSON endpoint must refuse: not JSON, not an object, missing or extra fields."""
    not_json = {
        "malformed-json": b'{"amount": ',
        "not-utf8": b'{"name": "\xff\xfe"}',
        "lone-surrogate": b'{"name": "\\ud800"}',
        "trailing-garbage": json.dumps(base).encode() + b" x",
        "deeply-nested": b"[" * 5000 + b"]" * 5000,
    }
    cases = [
        Case(f"{prefix}-{label}", method, path, Raw(raw), 400, "malformed-request")
        for label, raw in not_json.items()
    ]
    cases += [
        Case(f"{prefix}-empty-body", method, path, NO_BODY, 400, "malformed-request"),
        Case(f"{prefix}-whitespace-body", method, path, Raw(b"  \n "), 400, "malformed-request"),
        Case(f"{prefix}-null", method, path, Raw(b"null"), field="body"),
        Case(f"{prefix}-array", method, path, [base], field="body"),
        Case(f"{prefix}-string", method, path, "hello", field="body"),
        Case(f"{prefix}-number", method, path, 42, field="body"),
        Case(f"{prefix}-empty-object", method, path, {}),
        Case(f"{prefix}-extra-field", method, path, with_(base, surprise=1), field="surprise"),
        Case(
            f"{prefix}-too-large",
            method,
            path,
            with_(base, padding="x" * 70_000),
            413,
            "payload-too-large",
        ),
    ]
    cases += [
        Case(f"{prefix}-missing-{name}", method, path, without(base, name), field=name)
        for name in base
        if name not in ("tier", "category")  # these have defaults
    ]
    return [Case(**{**case.__dict__, "caller": caller}) for case in cases]


def money_cases() -> list[Case]:
    cases: list[Case] = []
    bad_amounts = {
        "string": "1000",
        "float": 1000.0,
        "fraction": 1.5,
        "true": True,
        "false": False,
        "null": None,
        "zero": 0,
        "negative": -1000,
        "over-max": AMOUNT_MAX + 1,
        "2pow63": 2**63,
        "2pow64": 2**64,
        "10pow30": 10**30,
        "list": [1000],
        "object": {"value": 1000},
    }
    for name, (path, base) in MONEY.items():
        cases += body_cases(name, "POST", path, base, "admin")
        cases += [
            Case(f"{name}-amount-{label}", "POST", path, with_(base, amount=amount), field="amount")
            for label, amount in bad_amounts.items()
        ]
        raw = json.dumps(base).replace('"amount": 1000', '"amount": {}')
        cases += [
            Case(
                f"{name}-amount-raw-{label}",
                "POST",
                path,
                Raw(raw.replace("{}", text).encode()),
                field="amount",
            )
            for label, text in (("1e400", "1e400"), ("1e3", "1e3"), ("minus-0", "-0"))
        ]
        # Valid JSON, but a number past what the parser takes (RFC 8259 section 6 allows limits).
        cases.append(
            Case(
                f"{name}-amount-raw-digits-5000",
                "POST",
                path,
                Raw(raw.replace("{}", "9" * 5000).encode()),
                400,
                "malformed-request",
            )
        )
        cases += [
            Case(
                f"{name}-no-idempotency-key",
                "POST",
                path,
                base,
                400,
                "idempotency-key-missing",
                key=None,
            ),
            Case(
                f"{name}-empty-idempotency-key",
                "POST",
                path,
                base,
                400,
                "idempotency-key-missing",
                key="",
            ),
            Case(f"{name}-long-idempotency-key", "POST", path, base, key="k" * 300),
            Case(f"{name}-non-ascii-idempotency-key", "POST", path, base, key="kunci-é"),
            Case(f"{name}-control-idempotency-key", "POST", path, base, key="kunci\x01"),
            Case(
                f"{name}-counter-coop-unknown",
                "POST",
                path,
                with_(base, counter_cooperative_id=UNKNOWN_COOP),
                404,
                "not-found",
            ),
            Case(
                f"{name}-counter-coop-number",
                "POST",
                path,
                with_(base, counter_cooperative_id=7),
                field="counter_cooperative_id",
            ),
            Case(f"{name}-by-a-member", "POST", path, base, 403, "forbidden", caller="member"),
            Case(
                f"{name}-anonymous",
                "POST",
                path,
                base,
                401,
                "authentication-required",
                caller="anonymous",
            ),
            Case(f"{name}-wrong-method", "GET", path, status=405, slug="method-not-allowed"),
        ]
        id_field = "merchant_id" if name == "payouts" else "member_id"
        unknown = UNKNOWN_MERCHANT if name == "payouts" else UNKNOWN_MEMBER
        cases += [
            Case(
                f"{name}-unknown-{id_field}",
                "POST",
                path,
                with_(base, **{id_field: unknown}),
                404,
                "not-found",
                stores_key=True,
            ),
            Case(
                f"{name}-{id_field}-number",
                "POST",
                path,
                with_(base, **{id_field: 12}),
                field=id_field,
            ),
            Case(
                f"{name}-{id_field}-empty",
                "POST",
                path,
                with_(base, **{id_field: ""}),
                field=id_field,
            ),
            Case(
                f"{name}-{id_field}-too-long",
                "POST",
                path,
                with_(base, **{id_field: "m" * 33}),
                field=id_field,
            ),
            Case(
                f"{name}-{id_field}-nul",
                "POST",
                path,
                with_(base, **{id_field: "mem_\x00"}),
                field=id_field,
            ),
        ]
    cash_out_path, cash_out = MONEY["cash-out"]
    cases += [
        Case(f"cash-out-pin-{label}", "POST", cash_out_path, with_(cash_out, pin=pin), field="pin")
        for label, pin in (
            ("short", "12345"),
            ("long", "1234567"),
            ("letters", "abcdef"),
            ("number", 123456),
            ("spaces", "12 456"),
            ("fullwidth", "１２３４５６"),
            ("null", None),
        )
    ]
    return cases


def registration_cases() -> list[Case]:
    members = "/api/v1/cooperatives/{coop}/members"
    merchants = "/api/v1/cooperatives/{coop}/merchants"
    bad_phones = {
        "short": "0812",
        "letters": "08123abc4567",
        "not-mobile": "0212345678",
        "foreign": "+15550100123",
        "too-long": "0812345678901234",
        "number": 81234567890,
        "plus-only": "+",
        "fullwidth": "０８１２３４５６７８９",
        "nul": "0812345678\x00",
    }
    bad_pins = {
        "short": "12345",
        "long": "1234567",
        "letters": "12345a",
        "number": 123456,
        "fullwidth": "１２３４５６",
    }
    bad_names = {
        "empty": "",
        "blank": "   ",
        "too-long": "n" * 121,
        "number": 5,
        "nul": "Si\x00ti",
        "newline": "Siti\nAdmin",
        "right-to-left-override": "Toko \u202eirS uB",
        "zero-width-only": "\u200b\u200d",
        "hangul-filler-only": "\u3164",
    }
    cases = body_cases("member", "POST", members, MEMBER_BODY, "admin")
    cases += [
        Case(f"member-phone-{k}", "POST", members, with_(MEMBER_BODY, phone=v), field="phone")
        for k, v in bad_phones.items()
    ]
    cases += [
        Case(f"member-pin-{k}", "POST", members, with_(MEMBER_BODY, pin=v), field="pin")
        for k, v in bad_pins.items()
    ]
    cases += [
        Case(f"member-name-{k}", "POST", members, with_(MEMBER_BODY, name=v), field="name")
        for k, v in bad_names.items()
    ]
    cases += [
        Case("member-tier-gold", "POST", members, with_(MEMBER_BODY, tier="gold"), field="tier"),
        Case("member-tier-number", "POST", members, with_(MEMBER_BODY, tier=1), field="tier"),
        Case(
            "member-unknown-coop",
            "POST",
            members.replace("{coop}", UNKNOWN_COOP),
            MEMBER_BODY,
            404,
            "not-found",
        ),
        Case(
            "member-by-network-admin",
            "POST",
            members,
            MEMBER_BODY,
            403,
            "forbidden",
            caller="network_admin",
        ),
        Case("member-by-member", "POST", members, MEMBER_BODY, 403, "forbidden", caller="member"),
        Case(
            "member-phone-taken",
            "POST",
            members,
            with_(MEMBER_BODY, phone="{member_phone}", pin="123456"),
            409,
            "phone-taken",
        ),
        Case(
            # A member's phone is refused the same whatever PIN is typed: no PIN is checked.
            "member-phone-taken-other-pin",
            "POST",
            members,
            with_(MEMBER_BODY, phone="{member_phone}"),
            409,
            "phone-taken",
        ),
        Case("member-wrong-method", "PUT", members, MEMBER_BODY, 405, "method-not-allowed"),
    ]
    cases += body_cases("merchant", "POST", merchants, MERCHANT_BODY, "admin")
    cases += [
        Case(
            f"merchant-owner-phone-{k}",
            "POST",
            merchants,
            with_(MERCHANT_BODY, owner_phone=v),
            field="owner_phone",
        )
        for k, v in bad_phones.items()
    ]
    cases += [
        Case(
            f"merchant-owner-pin-{k}",
            "POST",
            merchants,
            with_(MERCHANT_BODY, owner_pin=v),
            field="owner_pin",
        )
        for k, v in bad_pins.items()
    ]
    cases += [
        Case(f"merchant-name-{k}", "POST", merchants, with_(MERCHANT_BODY, name=v), field="name")
        for k, v in bad_names.items()
    ]
    cases += [
        Case(
            "merchant-kind-spaceship",
            "POST",
            merchants,
            with_(MERCHANT_BODY, kind="spaceship"),
            field="kind",
        ),
        Case(
            "merchant-kind-uppercase",
            "POST",
            merchants,
            with_(MERCHANT_BODY, kind="SHOP"),
            field="kind",
        ),
        Case(
            "merchant-category-huge",
            "POST",
            merchants,
            with_(MERCHANT_BODY, category="huge"),
            field="category",
        ),
        Case(
            "merchant-owner-name-blank",
            "POST",
            merchants,
            with_(MERCHANT_BODY, owner_name=" "),
            field="owner_name",
        ),
        Case(
            "merchant-unknown-coop",
            "POST",
            merchants.replace("{coop}", UNKNOWN_COOP),
            MERCHANT_BODY,
            404,
            "not-found",
        ),
        Case(
            "merchant-by-member",
            "POST",
            merchants,
            MERCHANT_BODY,
            403,
            "forbidden",
            caller="member",
        ),
    ]
    cooperatives = "/api/v1/cooperatives"
    cases += body_cases("cooperative", "POST", cooperatives, COOPERATIVE_BODY, "network_admin")
    cases += [
        Case(
            "cooperative-code-lowercase",
            "POST",
            cooperatives,
            with_(COOPERATIVE_BODY, code="knew"),
            field="code",
            caller="network_admin",
        ),
        Case(
            "cooperative-code-too-long",
            "POST",
            cooperatives,
            with_(COOPERATIVE_BODY, code="K" * 17),
            field="code",
            caller="network_admin",
        ),
        Case(
            "cooperative-kind-spaceship",
            "POST",
            cooperatives,
            with_(COOPERATIVE_BODY, kind="spaceship"),
            field="kind",
            caller="network_admin",
        ),
        Case(
            "cooperative-name-blank",
            "POST",
            cooperatives,
            with_(COOPERATIVE_BODY, name="  "),
            field="name",
            caller="network_admin",
        ),
        Case("cooperative-by-coop-admin", "POST", cooperatives, COOPERATIVE_BODY, 403, "forbidden"),
        Case(
            "cooperative-anonymous",
            "POST",
            cooperatives,
            COOPERATIVE_BODY,
            401,
            "authentication-required",
            caller="anonymous",
        ),
        Case(
            "cooperative-code-taken",
            "POST",
            cooperatives,
            with_(COOPERATIVE_BODY, code="KSM"),
            409,
            "conflict",
            caller="network_admin",
        ),
        Case(
            "cooperatives-wrong-method",
            "DELETE",
            cooperatives,
            status=405,
            slug="method-not-allowed",
        ),
    ]
    return cases


def auth_cases() -> list[Case]:
    login, refresh = "/api/v1/auth/login", "/api/v1/auth/refresh"
    cases = body_cases("login", "POST", login, LOGIN_BODY, "anonymous")
    cases += [
        Case(
            f"login-phone-{k}",
            "POST",
            login,
            with_(LOGIN_BODY, phone=v),
            field="phone",
            caller="anonymous",
        )
        for k, v in {"short": "0812", "letters": "0812abcdefg", "number": 81234567890}.items()
    ]
    cases += [
        Case(
            f"login-pin-{k}",
            "POST",
            login,
            with_(LOGIN_BODY, pin=v),
            field="pin",
            caller="anonymous",
        )
        for k, v in {"short": "12345", "long": "1234567", "number": 123456}.items()
    ]
    cases += [
        Case(
            "login-unknown-phone",
            "POST",
            login,
            LOGIN_BODY,
            401,
            "invalid-credentials",
            caller="anonymous",
        ),
        Case(
            "login-wrong-method",
            "GET",
            login,
            status=405,
            slug="method-not-allowed",
            caller="anonymous",
        ),
    ]
    # No body (or `{}`) asks for the cookie session's refresh: without the cookie, 401.
    cookie_refresh = {
        "refresh-empty-body",
        "refresh-whitespace-body",
        "refresh-empty-object",
        "refresh-missing-refresh_token",
    }
    cases += [
        Case(**{**case.__dict__, "status": 401, "slug": "authentication-required", "field": None})
        if case.id in cookie_refresh
        else case
        for case in body_cases("refresh", "POST", refresh, {"refresh_token": "r" * 40}, "anonymous")
    ]
    cases += [
        Case(
            "refresh-empty-token",
            "POST",
            refresh,
            {"refresh_token": ""},
            field="refresh_token",
            caller="anonymous",
        ),
        Case(
            "refresh-long-token",
            "POST",
            refresh,
            {"refresh_token": "r" * 201},
            field="refresh_token",
            caller="anonymous",
        ),
        Case(
            "refresh-number-token",
            "POST",
            refresh,
            {"refresh_token": 7},
            field="refresh_token",
            caller="anonymous",
        ),
        Case(
            "refresh-unknown-token",
            "POST",
            refresh,
            {"refresh_token": "r" * 40},
            401,
            "invalid-token",
            caller="anonymous",
        ),
    ]
    return cases


def read_cases() -> list[Case]:
    members = "/api/v1/cooperatives/{coop}/members"
    merchants = "/api/v1/cooperatives/{coop}/merchants"
    cases: list[Case] = []
    for name, path in (("members", members), ("merchants", merchants)):
        cases += [
            Case(f"{name}-limit-{label}", "GET", f"{path}?limit={value}")
            for label, value in (
                ("zero", "0"),
                ("abc", "abc"),
                ("huge", "100000"),
                ("negative", "-1"),
                ("empty", ""),
                ("fraction", "1.5"),
                ("superscript", "%C2%B2"),
                ("arabic-digit", "%D9%A3"),
                ("5000-digits", "9" * 5000),
                ("nul", "%00"),
            )
        ]
        cases += [
            # An unknown cursor is invalid input (422), as another cooperative's id is
            # (tests/attacks/test_api_hygiene.py): ids cannot be probed through it.
            Case(f"{name}-cursor-bogus", "GET", f"{path}?cursor=bogus"),
            Case(f"{name}-cursor-long", "GET", f"{path}?cursor={'c' * 5000}"),
            Case(f"{name}-cursor-nul", "GET", f"{path}?cursor=mem_%00"),
            Case(
                f"{name}-unknown-coop",
                "GET",
                path.replace("{coop}", UNKNOWN_COOP),
                status=404,
                slug="not-found",
            ),
            Case(
                f"{name}-nul-coop",
                "GET",
                path.replace("{coop}", "%00"),
                status=404,
                slug="not-found",
            ),
            Case(f"{name}-by-member", "GET", path, status=403, slug="forbidden", caller="member"),
            Case(
                f"{name}-anonymous",
                "GET",
                path,
                status=401,
                slug="authentication-required",
                caller="anonymous",
            ),
        ]
    cases += [
        Case(
            "wallet-unknown",
            "GET",
            f"/api/v1/members/{UNKNOWN_MEMBER}/wallet",
            status=404,
            slug="not-found",
        ),
        Case("wallet-nul", "GET", "/api/v1/members/%00/wallet", status=404, slug="not-found"),
        Case(
            "wallet-long-id",
            "GET",
            f"/api/v1/members/{'m' * 5000}/wallet",
            status=404,
            slug="not-found",
        ),
        Case(
            "wallet-of-another-member",
            "GET",
            "/api/v1/members/{member}/wallet",
            status=404,
            slug="not-found",
            caller="network_admin",
        ),
        Case(
            "wallet-wrong-method",
            "POST",
            "/api/v1/members/{member}/wallet",
            {},
            405,
            "method-not-allowed",
        ),
        Case(
            "me-anonymous",
            "GET",
            "/api/v1/me",
            status=401,
            slug="authentication-required",
            caller="anonymous",
        ),
        Case(
            "me-basic-auth",
            "GET",
            "/api/v1/me",
            status=401,
            slug="authentication-required",
            caller="anonymous",
            headers={"Authorization": "Basic YWRtaW46YWRtaW4="},
        ),
        Case(
            "me-garbage-token",
            "GET",
            "/api/v1/me",
            status=401,
            slug="invalid-token",
            caller="anonymous",
            headers={"Authorization": "Bearer not.a.token"},
        ),
        Case(
            "me-bearer-empty",
            "GET",
            "/api/v1/me",
            status=401,
            slug="authentication-required",
            caller="anonymous",
            headers={"Authorization": "Bearer "},
        ),
        Case("me-wrong-method", "PUT", "/api/v1/me", {}, 405, "method-not-allowed"),
        Case(
            "cooperatives-anonymous",
            "GET",
            "/api/v1/cooperatives",
            status=401,
            slug="authentication-required",
            caller="anonymous",
        ),
        Case(
            "healthz-wrong-method",
            "POST",
            "/healthz",
            {},
            405,
            "method-not-allowed",
            caller="anonymous",
        ),
        Case(
            "jwks-wrong-method",
            "DELETE",
            "/.well-known/jwks.json",
            status=405,
            slug="method-not-allowed",
            caller="anonymous",
        ),
        Case(
            "openapi-wrong-method",
            "POST",
            "/api/v1/openapi.json",
            {},
            405,
            "method-not-allowed",
            caller="anonymous",
        ),
    ]
    cases += [
        Case(f"unknown-path-{index}", method, path, status=404, slug="not-found", caller=caller)
        for index, (method, path, caller) in enumerate(
            [
                ("GET", "/api/v1/nope", "anonymous"),
                ("POST", "/api/v1/nope", "admin"),
                ("GET", "/api/v1/counter/cash-in/extra", "admin"),
                ("GET", "/api/v1/cooperatives/{coop}/nothing", "admin"),
                ("GET", "/api/v2/me", "admin"),
                ("GET", "/api/v1/members/{member}/wallet/x", "admin"),
                ("GET", "/no-such-page", "anonymous"),
            ]
        )
    ]
    return cases


CASES = money_cases() + registration_cases() + auth_cases() + read_cases()

# Cases run in groups, one town per group: a refused request writes nothing, so the cases of a
# group cannot disturb one another (and each checks so), and the town is built ~20 times, not ~370.
GROUP_PREFIXES = {
    "cash-in": "cash-in-",
    "cash-out": "cash-out-",
    "payouts": "payouts-",
    "register-member": "member-",
    "register-merchant": "merchant-",
    "cooperatives": "cooperative",
    "login": "login-",
    "refresh": "refresh-",
    "list-members": "members-",
    "list-merchants": "merchants-",
}


def group_of(case: Case) -> str:
    for group, prefix in GROUP_PREFIXES.items():
        if case.id.startswith(prefix):
            return group
    return "reads-and-routing"


GROUPS: dict[str, list[Case]] = {}
for _case in CASES:
    GROUPS.setdefault(group_of(_case), []).append(_case)


def test_case_ids_are_unique():
    ids = [case.id for case in CASES]
    assert len(ids) == len(set(ids))


# --- The town and the runner -----------------------------------------------------------------


@dataclass
class Town:
    city: object
    people: dict
    ids: dict


@pytest.fixture
def town(city):
    coop = city.make_cooperative("KSM")
    people = {
        "admin": city.make_admin(coop),
        "network_admin": city.make_staff("network_admin"),
        "member": city.make_member(coop),
    }
    merchant = city.make_merchant(coop)
    for person in people.values():
        city.token(person)  # log in now: a login writes refresh tokens, not counted rows
    ids = {
        "coop": coop,
        "member": people["member"].id,
        "member_phone": people["member"].phone,
        "merchant": merchant.id,
    }
    return Town(city, people, ids)


def fill(value, ids: dict):
    """Replace the {coop}, {member}, {merchant}, {member_phone} placeholders."""
    if isinstance(value, Raw):
        text = value.decode("utf-8", "surrogateescape")
        for name, real in ids.items():
            text = text.replace("{" + name + "}", real)
        return Raw(text.encode("utf-8", "surrogateescape"))
    if isinstance(value, str):
        for name, real in ids.items():
            value = value.replace("{" + name + "}", real)
        return value
    if isinstance(value, dict):
        return {key: fill(item, ids) for key, item in value.items()}
    if isinstance(value, list):
        return [fill(item, ids) for item in value]
    return value


def send(town: Town, case: Case):
    headers = dict(case.headers)
    if case.caller != "anonymous":
        headers.update(town.city.headers(town.people[case.caller]))
    key = case.key
    if key == AUTO_KEY:
        key = uuid.uuid4().hex if case.path.startswith(COUNTER) else None
    if key is not None:
        headers["Idempotency-Key"] = key
    path = fill(case.path, town.ids)
    body = fill(case.body, town.ids)
    kwargs: dict = {"headers": headers}
    if isinstance(body, Raw):
        kwargs.update(data=bytes(body), content_type="application/json")
    elif body is not NO_BODY:
        kwargs["json"] = body
    elif case.method in ("POST", "PUT"):
        kwargs["content_type"] = "application/json"
    return town.city.client.open(path, method=case.method, **kwargs)


def assert_problem(response, status: int, slug: str) -> dict:
    """An RFC 9457 problem: its media type, a stable type URI, a title, the status, a sentence."""
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/problem+json"
    problem = response.get_json()
    assert isinstance(problem, dict)
    assert PROBLEM_TYPE.match(problem["type"]), problem
    assert problem["type"].endswith("/" + slug), problem
    assert isinstance(problem["title"], str) and problem["title"].strip()
    assert problem["status"] == status
    detail = problem["detail"]
    assert isinstance(detail, str) and len(detail) > 5 and detail.rstrip()[-1] in ".!?", problem
    return problem


def counts(city) -> dict:
    return {model.__name__: city.count(model) for model in COUNTED}


def check(town: Town, case: Case) -> None:
    before = counts(town.city)
    response = send(town, case)
    problem = assert_problem(response, case.status, case.slug)
    if case.field is not None:
        fields = [error["field"] for error in problem["errors"]]
        assert case.field in fields, problem
        assert all(error["message"] for error in problem["errors"]), problem
    if case.status == 405:
        allowed = {method.strip() for method in response.headers["Allow"].split(",")}
        assert allowed and case.method not in allowed
    expected = dict(before)
    if case.stores_key:
        expected["IdempotencyKey"] += 1
    assert counts(town.city) == expected


@pytest.mark.parametrize("group", list(GROUPS))
def test_bad_input_is_a_problem_and_writes_nothing(town, group):
    failures = []
    for case in GROUPS[group]:
        try:
            check(town, case)
        except (AssertionError, KeyError) as error:
            failures.append(f"{case.id}: {type(error).__name__}: {str(error)[:600]}")
    assert not failures, f"{len(failures)} of {len(GROUPS[group])} cases failed:\n" + "\n".join(
        failures
    )


# --- Beyond the table ------------------------------------------------------------------------


def test_the_table_bases_are_accepted(town):
    """The cases above fail for the reason they name: their base bodies are valid."""
    city, admin = town.city, town.people["admin"]
    response = send(town, Case("ok", "POST", MONEY["cash-in"][0], MONEY["cash-in"][1]))
    assert response.status_code == 201, response.get_json()
    for path, body in (("members", MEMBER_BODY), ("merchants", MERCHANT_BODY)):
        response = city.post(admin, f"/api/v1/cooperatives/{town.ids['coop']}/{path}", body, None)
        assert response.status_code == 201, response.get_json()
    response = city.post(
        town.people["network_admin"], "/api/v1/cooperatives", COOPERATIVE_BODY, None
    )
    assert response.status_code == 201, response.get_json()
    response = city.get(admin, f"/api/v1/cooperatives/{town.ids['coop']}/members?limit=200")
    assert response.status_code == 200
    assert len(response.get_json()["items"]) == 2


def test_a_stored_refusal_replays_and_moves_nothing(town):
    """An unknown member at the counter: 404, kept under the key, replayed the same."""
    city = town.city
    path, base = MONEY["cash-in"]
    body = with_(fill(base, town.ids), member_id=UNKNOWN_MEMBER)
    first = city.post(town.people["admin"], path, body, "same-key")
    second = city.post(town.people["admin"], path, body, "same-key")
    assert_problem(first, 404, "not-found")
    assert_problem(second, 404, "not-found")
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert second.get_json() == first.get_json()
    assert city.count(Transfer) == 0


def test_problem_detail_speaks_english_on_request(town):
    headers = town.city.headers(town.people["admin"], key=uuid.uuid4().hex)
    path, base = MONEY["cash-in"]
    body = with_(fill(base, town.ids), amount="1000")
    indonesian = town.city.client.post(path, json=body, headers=headers)
    headers["Idempotency-Key"] = uuid.uuid4().hex
    english = town.city.client.post(path, json=body, headers={**headers, "Accept-Language": "en"})
    assert (
        assert_problem(indonesian, 422, "validation-failed")["detail"]
        == "Data yang dikirim tidak sah."
    )
    assert assert_problem(english, 422, "validation-failed")["detail"] == (
        "Some of the data sent is not valid."
    )
    assert english.headers["Cache-Control"] == "no-store"


def test_an_over_large_body_is_refused_without_a_content_length(town):
    """A chunked body has no Content-Length; the limit still holds while it is read.

    Valid JSON then padding: cut at the limit as it is read, what is left parses, so the body
    must be refused for its size rather than run.
    """
    headers = town.city.headers(town.people["admin"], key=uuid.uuid4().hex)
    path, base = MONEY["cash-in"]
    body = json.dumps(fill(base, town.ids)).encode() + b" " * 70_000
    response = town.city.client.post(
        path,
        input_stream=io.BytesIO(body),
        headers={**headers, "Content-Type": "application/json", "Transfer-Encoding": "chunked"},
        # What a server that de-chunks the body itself tells the application.
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert_problem(response, 413, "payload-too-large")
    assert town.city.count(Transfer) == 0
    assert town.city.count(IdempotencyKey) == 0


def test_an_unreachable_database_is_a_503_with_retry_after(app, client, monkeypatch):
    import sqlalchemy as sa

    def broken():
        raise sa.exc.OperationalError(
            "SELECT 1", {}, Exception("the database system is starting up")
        )

    monkeypatch.setitem(app.view_functions, "root.healthz", broken)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["type"].endswith("/service-unavailable")


def test_the_control_character_pattern_is_exactly_unicodes_category_cc():
    """Bodies are scanned with one regular expression; it must refuse what category Cc names."""
    import unicodedata

    from gateway.api.schemas import CONTROL_CHARACTERS

    for code_point in range(0x110000):
        character = chr(code_point)
        assert bool(CONTROL_CHARACTERS.search(character)) == (
            unicodedata.category(character) == "Cc"
        ), f"U+{code_point:04X}"
