"""The demo city: four cooperatives, their admins, members with money, and merchants of each kind.

Seeding is idempotent: every record is looked up by its natural key (cooperative code, phone,
merchant name) first, and a member's opening cash-in is written only when the member is created.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway import counter, registry, shifts
from gateway.db import transaction
from gateway.models import Cooperative, Member, Merchant, User
from gateway.money import format_rupiah

ADMIN_PIN = "111111"
MEMBER_PIN = "123456"
MERCHANT_PIN = "654321"
OPENING_BALANCE = 750_000

COOPERATIVES = [
    ("KSM", "Koperasi Konsumen Sejahtera Mandiri", "consumer"),
    ("KPP", "Koperasi Pedagang Pasar Baru", "market_traders"),
    ("KAM", "Koperasi Angkot Maju Bersama", "transport"),
    ("KTS", "Koperasi Taksi Sentosa", "transport"),
]

NETWORK_ADMIN = ("+6281100000001", "Operator Jaringan Interkop")
OBSERVER = ("+6281100000002", "Dinas Koperasi Kota")

# (phone, name, cooperative code, tier, counter where the opening cash-in was made)
MEMBERS = [
    ("+6281200000001", "Siti Rahayu", "KSM", "verified", "KSM"),
    ("+6281200000002", "Budi Santoso", "KSM", "basic", "KPP"),
    ("+6281200000003", "Dewi Lestari", "KSM", "basic", "KSM"),
    ("+6281200000004", "Agus Setiawan", "KPP", "verified", "KPP"),
    ("+6281200000005", "Rina Wati", "KPP", "basic", "KSM"),
    ("+6281200000006", "Joko Susilo", "KAM", "basic", "KAM"),
    ("+6281200000007", "Yanti Kurnia", "KAM", "basic", "KTS"),
    ("+6281200000008", "Andi Pratama", "KTS", "basic", "KTS"),
    ("+6281200000009", "Maya Sari", "KTS", "verified", "KSM"),
    ("+6281200000010", "Hendra Wijaya", "KPP", "basic", "KAM"),
]

# (owner phone, owner name, merchant name, cooperative code, kind, category)
MERCHANTS = [
    ("+6281300000001", "Sri Wahyuni", "Toko Kelontong Bu Sri", "KSM", "shop", "small"),
    ("+6281300000002", "Pak Darmo", "Warung Sayur Pak Darmo", "KPP", "shop", "micro"),
    ("+6281200000006", "Joko Susilo", "Angkot 05 Terminal-Pasar", "KAM", "angkot", "micro"),
    ("+6281300000003", "Rudi Hartono", "Taksi Sentosa 17", "KTS", "taxi", "micro"),
    ("+6281300000004", "Lina Marlina", "Fotokopi Bu Lina", "KPP", "other", "micro"),
]


# The teller's shift (gateway/shifts.py): each cooperative's admin works at its counter on a
# shift opened with this much cash in the drawer (the members' opening cash-ins go into it).
# KSM also has a teller (kasir) with no shift yet, who opens one in the app; either of KSM's two
# admins can give the other's shift its second sign-off.
DEMO_SHIFT_OPENING_CASH = 1_000_000
KSM_TELLER = ("+6281100000201", "Kasir KSM")


def _open_demo_shifts(session: Session, cooperatives: dict, admin_users: dict) -> None:
    """Open a shift for each cooperative's admin who has none open."""
    session.flush()
    for code, user in admin_users.items():
        if shifts.current_shift(session, user.id) is None:
            shifts.open_shift(
                session,
                cooperative=cooperatives[code],
                teller_user_id=user.id,
                opening_cash_amount=DEMO_SHIFT_OPENING_CASH,
            )


def _admin_phone(index: int) -> str:
    return f"+62811000001{index:02d}"


def seed(session: Session, scrypt_n: int) -> dict:
    """Create whatever of the demo city is missing and return every login as plain data."""
    return transaction(session, lambda s: _seed(s, scrypt_n))


def _seed(session: Session, scrypt_n: int) -> dict:
    registry.ensure_network_accounts(session)
    cooperatives: dict[str, Cooperative] = {}
    for code, name, kind in COOPERATIVES:
        cooperative = session.scalar(select(Cooperative).where(Cooperative.code == code))
        cooperatives[code] = cooperative or registry.create_cooperative(
            session, code=code, name=name, kind=kind
        )

    admins = []

    def staff(phone, name, role, cooperative=None):
        user = registry.find_or_create_user(
            session, phone=phone, name=name, pin=ADMIN_PIN, scrypt_n=scrypt_n
        )
        registry.grant_staff_role(session, user=user, role=role, cooperative=cooperative)
        record = {
            "id": user.public_id,
            "name": name,
            "phone": phone,
            "pin": ADMIN_PIN,
            "role": role,
        }
        if cooperative is not None:
            record["cooperative_id"] = cooperative.public_id
        admins.append(record)
        return user

    staff(*NETWORK_ADMIN, "network_admin")
    staff(*OBSERVER, "observer")
    admin_users = {}
    for index, (code, _name, _kind) in enumerate(COOPERATIVES, start=1):
        admin_users[code] = staff(
            _admin_phone(index), f"Admin {code}", "coop_admin", cooperatives[code]
        )
    _open_demo_shifts(session, cooperatives, admin_users)
    staff(*KSM_TELLER, "coop_admin", cooperatives["KSM"])

    members = []
    for phone, name, code, tier, counter_code in MEMBERS:
        user = session.scalar(select(User).where(User.phone == phone))
        member = session.scalar(select(Member).where(Member.user_id == user.id)) if user else None
        if member is None:
            user = user or registry.find_or_create_user(
                session, phone=phone, name=name, pin=MEMBER_PIN, scrypt_n=scrypt_n
            )
            member = registry.enrol_member(
                session, cooperative=cooperatives[code], user=user, tier=tier
            )
            counter.cash_in(
                session,
                counter=cooperatives[counter_code],
                member=member,
                amount=OPENING_BALANCE,
                actor_user_id=admin_users[counter_code].id,
            )
        members.append(
            {
                "id": member.public_id,
                "name": name,
                "phone": phone,
                "pin": MEMBER_PIN,
                "tier": member.tier,
                "cooperative_id": cooperatives[code].public_id,
            }
        )

    merchants = []
    for owner_phone, owner_name, name, code, kind, category in MERCHANTS:
        merchant = session.scalar(select(Merchant).where(Merchant.name == name))
        owner_pin = MEMBER_PIN if any(m[0] == owner_phone for m in MEMBERS) else MERCHANT_PIN
        if merchant is None:
            # Trusted code: a demo member who also drives is made the owner directly (through
            # the API they would accept an invitation in their own app).
            owner = registry.find_or_create_user(
                session, phone=owner_phone, name=owner_name, pin=owner_pin, scrypt_n=scrypt_n
            )
            merchant = registry.open_merchant(
                session,
                cooperative=cooperatives[code],
                owner=owner,
                name=name,
                kind=kind,
                category=category,
            )
        merchants.append(
            {
                "id": merchant.public_id,
                "name": name,
                "phone": owner_phone,
                "pin": owner_pin,
                "kind": kind,
                "category": category,
                "cooperative_id": cooperatives[code].public_id,
            }
        )

    return {
        "cooperatives": [
            {
                "id": cooperatives[code].public_id,
                "code": code,
                "name": name,
                "kind": kind,
            }
            for code, name, kind in COOPERATIVES
        ],
        "admins": admins,
        "members": members,
        "merchants": merchants,
    }


def describe(city: dict) -> str:
    """Render the demo city's logins for a person."""
    lines = ["Demo city seeded. Log in with phone + PIN:", ""]
    lines.append("Staff:")
    for admin in city["admins"]:
        lines.append(f"  {admin['role']:<14} {admin['phone']}  PIN {admin['pin']}  {admin['name']}")
    lines.append("Members (opening balance " + format_rupiah(OPENING_BALANCE) + "):")
    for member in city["members"]:
        lines.append(f"  {member['id']}  {member['phone']}  PIN {member['pin']}  {member['name']}")
    lines.append("Merchants:")
    for merchant in city["merchants"]:
        lines.append(
            f"  {merchant['id']}  {merchant['kind']:<7} {merchant['phone']}  PIN {merchant['pin']}"
            f"  {merchant['name']}"
        )
    return "\n".join(lines)


# (payer phone, merchant name, amount): a morning in the demo city.
DEMO_PAYMENTS = [
    ("+6281200000001", "Warung Sayur Pak Darmo", 27_500),
    ("+6281200000002", "Angkot 05 Terminal-Pasar", 5_000),
    ("+6281200000004", "Toko Kelontong Bu Sri", 48_000),
    ("+6281200000005", "Taksi Sentosa 17", 45_000),
    ("+6281200000008", "Angkot 05 Terminal-Pasar", 4_000),
    ("+6281200000009", "Warung Sayur Pak Darmo", 12_500),
    ("+6281200000010", "Fotokopi Bu Lina", 7_500),
]


def pay_some(session: Session, ring, settings, pin_policy) -> list[dict]:
    """Make the demo payments (each through the real pay use case, on the merchant's sticker)."""
    from gateway import payments, qr

    receipts = []
    for phone, merchant_name, amount in DEMO_PAYMENTS:

        def work(s, phone=phone, merchant_name=merchant_name, amount=amount):
            payer = s.scalar(select(Member).join(User).where(User.phone == phone))
            merchant = s.scalar(select(Merchant).where(Merchant.name == merchant_name))
            sticker = qr.static_for(s, ring, settings, merchant)
            receipt, _ = payments.pay(
                s,
                ring=ring,
                settings=settings,
                payer=payer,
                token=sticker.token,
                amount=amount,
                pin=MEMBER_PIN,
                pin_policy=pin_policy,
            )
            return receipt

        receipts.append(transaction(session, work))
    return receipts
