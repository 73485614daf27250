"""Demo accounts: one or more per role, with fixed passwords printed by `flask demo load`."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from app.accounts import services as account_services
from app.accounts.models import User
from app.core.permissions import Role
from app.demo.loaders import ORDER_ACCOUNTS, DemoReport, demo_loader


@dataclass(frozen=True)
class DemoAccountSpec:
    """A demo account; the e-mail address is its natural key."""

    key: str  # how other loaders refer to it, e.g. DEMO_ACCOUNTS["facility_staff"].email
    email: str
    password: str
    role: Role
    display_name: str
    language: str
    description: str


# Demo passwords are public on purpose (printed, documented); they only ever exist in demo databases,
# and `flask demo load` refuses to run in production.
_SPECS = (
    DemoAccountSpec(
        "resident", "sato.hanako@example.jp", "Shiba-Koen-Sakura-2026", Role.RESIDENT,  # noqa: S106
        "佐藤 花子", "ja", "区民 (芝地区, 日本語)",
    ),
    DemoAccountSpec(
        "resident2", "suzuki.ichiro@example.jp", "Azabu-Juban-Matsuri-2026", Role.RESIDENT,  # noqa: S106
        "鈴木 一郎", "ja", "区民 (麻布地区, 日本語)",
    ),
    DemoAccountSpec(
        "resident_en", "emily.carter@example.com", "Roppongi-Hills-Maple-2026", Role.RESIDENT,  # noqa: S106
        "Emily Carter", "en", "resident, English interface",
    ),
    DemoAccountSpec(
        "resident_easy", "nguyen.thi.lan@example.jp", "Shibaura-Canal-Lotus-2026", Role.RESIDENT,  # noqa: S106
        "グエン・ティ・ラン", "ja-easy", "区民 (やさしい日本語)",
    ),
    DemoAccountSpec(
        "officer", "yamada.taro@example.jp", "Akasaka-Kodomo-Shokudo-2026", Role.RESIDENT,  # noqa: S106
        "山田 太郎", "ja", "町会・NPOの役員 (イベントの公開・受付・報告)",
    ),
    DemoAccountSpec(
        "facility_staff", "takahashi.kenta@staff.example.jp", "Akasaka-Kumin-Center-2026",  # noqa: S106
        Role.FACILITY_STAFF, "高橋 健太", "ja", "施設職員 (区民センター)",
    ),
    DemoAccountSpec(
        "ward_staff", "nakamura.yumi@staff.example.jp", "Kyodo-Suishin-Ka-2026", Role.WARD_STAFF,  # noqa: S106
        "中村 由美", "ja", "区職員 (協働推進課)",
    ),
    DemoAccountSpec(
        "admin", "admin@tsudoi.example.jp", "Tsudoi-Admin-Minato-2026", Role.ADMIN,  # noqa: S106
        "つどい管理者", "ja", "管理者",
    ),
)

DEMO_ACCOUNTS: dict[str, DemoAccountSpec] = {spec.key: spec for spec in _SPECS}


@demo_loader("accounts", order=ORDER_ACCOUNTS)
def load_accounts(session, report: DemoReport) -> None:
    """Create the demo accounts that are missing (confirmed, with their language); leave existing ones alone."""
    for spec in _SPECS:
        found = session.scalar(sa.select(User.id).where(User.email == spec.email))
        if found is not None:
            report.exists("accounts")
        else:
            user = account_services.create_user(
                email=spec.email, password=spec.password, role=spec.role, display_name=spec.display_name
            )
            user.preferred_language = spec.language
            report.add("accounts")
        report.account(email=spec.email, password=spec.password, role=spec.role.value, description=spec.description)
