"""Demo organizations (団体): every kind, in every district, some verified until a term end, some pending; the demo
officer's memberships."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa

from app.accounts.models import User
from app.core.districts import District
from app.core.time import fiscal_year, today_tokyo
from app.demo.accounts import DEMO_ACCOUNTS
from app.demo.loaders import ORDER_ORGANIZATIONS, DemoReport, demo_loader
from app.organizations.models import Membership, MembershipRole, Organization, OrganizationKind, VerificationStatus

K = OrganizationKind
D = District
V = VerificationStatus


@dataclass(frozen=True)
class DemoOrganizationSpec:
    """A demo group; name_ja is its natural key. TERM_YEARS: fiscal years the verification lasts (0: none)."""

    name_ja: str
    name_en: str
    name_easy: str | None
    kind: OrganizationKind
    district: District
    status: VerificationStatus
    term_years: int = 0


ORGANIZATIONS: tuple[DemoOrganizationSpec, ...] = (
    # 芝地区
    DemoOrganizationSpec("芝五丁目町会", "Shiba 5-chome Neighborhood Association", "しば5ちょうめ ちょうかい",
                         K.NEIGHBORHOOD_ASSOCIATION, D.SHIBA, V.VERIFIED, 2),
    DemoOrganizationSpec("芝大門一丁目町会", "Shiba-Daimon 1-chome Neighborhood Association", None,
                         K.NEIGHBORHOOD_ASSOCIATION, D.SHIBA, V.PENDING),
    DemoOrganizationSpec("芝公園ボランティアの会", "Shiba Park Volunteers", "しばこうえん ボランティアの かい",
                         K.VOLUNTEER_GROUP, D.SHIBA, V.VERIFIED, 1),
    DemoOrganizationSpec("港区 芝地区総合支所 協働推進課", "Minato City Shiba Branch Office, Community Collaboration "
                         "Section", "みなとく しば ちく そうごうししょ", K.WARD_SECTION, D.SHIBA, V.VERIFIED, 3),
    # 麻布地区
    DemoOrganizationSpec("麻布十番商店街振興組合", "Azabu-Juban Shopping Street Association",
                         "あざぶじゅうばん しょうてんがい", K.SHOPPING_STREET, D.AZABU, V.VERIFIED, 2),
    DemoOrganizationSpec("元麻布三丁目町会", "Moto-Azabu 3-chome Neighborhood Association", None,
                         K.NEIGHBORHOOD_ASSOCIATION, D.AZABU, V.PENDING),
    DemoOrganizationSpec("麻布国際交流の会", "Azabu International Friendship Association",
                         "あざぶ こくさい こうりゅうの かい", K.INTERNATIONAL, D.AZABU, V.VERIFIED, 1),
    DemoOrganizationSpec("在日ニュージーランド大使館 文化交流担当", "Embassy of New Zealand, Cultural Affairs", None,
                         K.INTERNATIONAL, D.AZABU, V.PENDING),
    # 赤坂地区
    DemoOrganizationSpec("赤坂六丁目町会", "Akasaka 6-chome Neighborhood Association", "あかさか6ちょうめ ちょうかい",
                         K.NEIGHBORHOOD_ASSOCIATION, D.AKASAKA, V.VERIFIED, 1),
    DemoOrganizationSpec("赤坂一ツ木通り商店会", "Akasaka Hitotsugi-dori Merchants Association", None,
                         K.SHOPPING_STREET, D.AKASAKA, V.PENDING),
    DemoOrganizationSpec("NPO法人 赤坂こども食堂ネットワーク", "Akasaka Children's Cafeteria Network (NPO)",
                         "あかさか こども しょくどう", K.NPO, D.AKASAKA, V.VERIFIED, 2),
    DemoOrganizationSpec("赤坂伝統芸能保存会", "Akasaka Traditional Performing Arts Society", None,
                         K.CULTURE_ARTS, D.AKASAKA, V.VERIFIED, 1),
    # 高輪地区
    DemoOrganizationSpec("高輪二丁目町会", "Takanawa 2-chome Neighborhood Association", "たかなわ2ちょうめ ちょうかい",
                         K.NEIGHBORHOOD_ASSOCIATION, D.TAKANAWA, V.VERIFIED, 2),
    DemoOrganizationSpec("白金商店会", "Shirokane Merchants Association", None,
                         K.SHOPPING_STREET, D.TAKANAWA, V.EXPIRED),
    DemoOrganizationSpec("高輪学院大学 地域連携センター", "Takanawa Gakuin University, Community Partnership Center",
                         "たかなわ がくいん だいがく", K.UNIVERSITY, D.TAKANAWA, V.VERIFIED, 3),
    DemoOrganizationSpec("白金台 邦楽と朗読の会", "Shirokanedai Japanese Music and Reading Circle", None,
                         K.CULTURE_ARTS, D.TAKANAWA, V.PENDING),
    # 芝浦港南地区
    DemoOrganizationSpec("芝浦アイランド自治会", "Shibaura Island Residents' Association",
                         "しばうら アイランド じちかい", K.NEIGHBORHOOD_ASSOCIATION, D.SHIBAURA_KONAN, V.VERIFIED, 1),
    DemoOrganizationSpec("港南四丁目町会", "Konan 4-chome Neighborhood Association", None,
                         K.NEIGHBORHOOD_ASSOCIATION, D.SHIBAURA_KONAN, V.PENDING),
    DemoOrganizationSpec("NPO法人 芝浦運河まちづくり協議会", "Shibaura Canal Community Design Council (NPO)", None,
                         K.NPO, D.SHIBAURA_KONAN, V.VERIFIED, 2),
    DemoOrganizationSpec("株式会社 芝浦テックラボ", "Shibaura Tech Lab Inc.", None,
                         K.COMPANY, D.SHIBAURA_KONAN, V.PENDING),
    DemoOrganizationSpec("芝浦港南 防災ボランティア隊", "Shibaura-Konan Disaster Preparedness Volunteers",
                         "しばうら こうなん ぼうさい ボランティア", K.VOLUNTEER_GROUP, D.SHIBAURA_KONAN, V.VERIFIED, 1),
    # 区全域
    DemoOrganizationSpec("港区 産業・地域振興支援部 地域振興課", "Minato City Community Promotion Division",
                         "みなとく ちいき しんこう か", K.WARD_SECTION, D.WARD_WIDE, V.VERIFIED, 3),
    DemoOrganizationSpec("みなと多文化共生サポーターズ", "Minato Multicultural Supporters",
                         "みなと たぶんか きょうせい サポーターズ", K.VOLUNTEER_GROUP, D.WARD_WIDE, V.REJECTED),
    DemoOrganizationSpec("港区民合唱団「みなとの風」", "Minato Citizens' Choir \"Minato no Kaze\"", None,
                         K.CULTURE_ARTS, D.WARD_WIDE, V.VERIFIED, 1),
    DemoOrganizationSpec("東京湾岸こども劇場", "Tokyo Bayside Children's Theatre", None,
                         K.OTHER, D.WARD_WIDE, V.PENDING),
)


def verified_until(spec: DemoOrganizationSpec, today: date) -> date | None:
    """Verified groups: the last day (March 31) of the TERM_YEARS-th fiscal year from today's; expired: last one's."""
    current = fiscal_year(today)
    if spec.status == VerificationStatus.VERIFIED:
        return date(current + spec.term_years, 3, 31)
    if spec.status == VerificationStatus.EXPIRED:
        return date(current, 3, 31)
    return None


@demo_loader("organizations", order=ORDER_ORGANIZATIONS)
def load_organizations(session, report: DemoReport) -> None:
    """Create the demo organizations that are missing, found by their Japanese name."""
    names = [spec.name_ja for spec in ORGANIZATIONS]
    present = set(session.scalars(sa.select(Organization.name_ja).where(Organization.name_ja.in_(names))))
    today = today_tokyo()
    for spec in ORGANIZATIONS:
        if spec.name_ja in present:
            report.exists("organizations")
            continue
        session.add(
            Organization(
                kind=spec.kind,
                district=spec.district,
                name_ja=spec.name_ja,
                name_en=spec.name_en,
                name_easy=spec.name_easy,
                status=spec.status,
                verified_until=verified_until(spec, today),
            )
        )
        report.add("organizations")


# The demo officer (役員) and the groups they run, by name: the NPO has events (with registrations and reports) and
# a booking series, the 町会 has events too, so the group side (publishing, the door, reports, the group's
# bookings) can be tried without signing up a group and having it verified.
OFFICER_GROUPS: dict[str, tuple[str, ...]] = {
    "officer": ("NPO法人 赤坂こども食堂ネットワーク", "赤坂六丁目町会"),
}


@demo_loader("organization_officers", order=ORDER_ORGANIZATIONS + 10)
def load_officers(session, report: DemoReport) -> None:
    """Make the demo officer accounts officers of their groups; memberships already there are left alone."""
    for key, names in OFFICER_GROUPS.items():
        user_id = session.scalar(sa.select(User.id).where(User.email == DEMO_ACCOUNTS[key].email))
        if user_id is None:
            continue
        groups = session.scalars(sa.select(Organization.id).where(Organization.name_ja.in_(names))).all()
        members = set(session.scalars(sa.select(Membership.organization_id).where(
            Membership.user_id == user_id, Membership.organization_id.in_(groups))))
        for organization_id in groups:
            if organization_id in members:
                report.exists("officer memberships")
                continue
            session.add(Membership(organization_id=organization_id, user_id=user_id, role=MembershipRole.OFFICER))
            report.add("officer memberships")
