"""A role and a form added only in configuration: asked for on /start, approved, in the menu,
/help and the welcome in both languages, and filed end to end; the six roles' menus as before."""

import tomllib

import pytest
import time_machine
from sqlalchemy import select
from support import local, make_staff

from bot.config import ConfigError, load_settings
from bot.forms.spec import DEFAULTS_FILE, default_reports
from bot.models import Report, Staff
from bot.services import menu
from jobs.tick import tick

LEAD_ROLE = {
    "key": "project_lead",
    "name": {"zh": "项目负责人", "en": "Project lead"},
    "forms": ["activity_plan", "activity_results"],
}
PROJECT_FORM = {
    "key": "project_weekly",
    "command": "project",
    "name": {"zh": "项目进展周报", "en": "Weekly project report"},
    "menu": {"zh": "提交项目进展周报", "en": "File the weekly project report"},
    "roles": ["project_lead"],
    "cadence": "weekly",
    "due_time": "17:00",
    "announce": ["directors"],
    "fields": [
        {"key": "progress", "type": "longtext", "label": {"zh": "本周进展", "en": "Progress"}},
        {
            "key": "milestones",
            "type": "int",
            "label": {"zh": "完成里程碑", "en": "Milestones done"},
            "metric": True,
            "min": 0,
        },
    ],
}
PROJECT = """/project
本周进展：沈阳物业缴费项目上线第二期
完成里程碑：2"""


def with_lead(settings, **roles_extra):
    """The test settings plus the project lead and their weekly form, through validation."""
    reports = tomllib.loads(DEFAULTS_FILE.read_text(encoding="utf-8"))
    reports["forms"].append(PROJECT_FORM)
    role = {**LEAD_ROLE, **roles_extra}
    return load_settings(
        telegram=settings.telegram.model_dump(),
        database=settings.database.model_dump(),
        team=settings.team.model_dump(),
        roles={"extra": [role]},
        reports=reports,
    )


@pytest.fixture
def settings(settings):
    return with_lead(settings)


@pytest.fixture
def lead(sim):
    return sim.user(
        id=2010, first_name="周", last_name="杰", username="zhoujie", language_code="zh"
    )


@pytest.fixture
def lead_en(sim):
    return sim.user(id=2011, first_name="Amy", last_name="Sun", language_code="en")


async def _join(person, director, role_label: str) -> None:
    await person.send("/start")
    choose = person.inbox[-1]
    await person.press(choose, role_label)
    await director.press(director.inbox[-1], "✅ 批准")


async def test_a_configured_role_joins_sees_its_form_and_files_it(
    app, sim, sessions, director, lead
):
    await director.send("/start")
    await lead.send("/start")
    labels = [b.text for row in lead.inbox[-1].buttons for b in row]
    assert "项目负责人" in labels and "渠道拓展经理" in labels and "运营总监" not in labels

    await lead.press(lead.inbox[-1], "项目负责人")
    assert "项目负责人" in lead.inbox[-1].plain  # the request went out, naming the role
    card = director.inbox[-1]
    assert "加入申请" in card.plain and "项目负责人" in card.plain
    await director.press(card, "✅ 批准")

    welcome = lead.inbox[-1].plain
    assert "欢迎加入团队" in welcome and "项目负责人" in welcome
    assert "/project — 提交项目进展周报" in welcome and "/activity" in welcome
    assert "/daily" not in welcome
    commands = dict(sim.menu(lead))
    assert commands["project"] == "提交项目进展周报" and "activity" in commands
    assert "daily" not in commands and "media" not in commands
    await lead.send("/help")
    assert "/project — 提交项目进展周报" in lead.inbox[-1].plain

    await lead.send("/lang")
    await lead.press(lead.inbox[-1], "English")
    assert dict(sim.menu(lead))["project"] == "File the weekly project report"
    await lead.send("/help")
    assert "/project — File the weekly project report" in lead.inbox[-1].plain

    async with sessions() as s:
        staff = await s.scalar(select(Staff).where(Staff.telegram_id == lead.id))
    assert staff.role_names == {"project_lead"}


async def test_the_welcome_is_in_english_for_an_english_speaker(app, sim, director, lead_en):
    await director.send("/start")
    await _join(lead_en, director, "Project lead")
    welcome = lead_en.inbox[-1].plain
    assert "Project lead" in welcome
    assert "/project — File the weekly project report" in welcome
    assert dict(sim.menu(lead_en))["project"] == "File the weekly project report"


async def test_the_configured_form_is_owed_filed_on_time_and_sent_to_the_director(
    app, sessions, director, lead
):
    with time_machine.travel(local("2026-11-23 09:00"), tick=True):  # Monday
        await director.send("/start")
        await _join(lead, director, "项目负责人")
    with time_machine.travel(local("2026-11-27 15:00"), tick=True):  # Friday, due 17:00
        await tick(app.bot_data, app.bot)
        await lead.send(PROJECT)
        review = lead.inbox[-1]
        assert "沈阳物业缴费项目上线第二期" in review.plain
        await lead.press(review, "✅ 提交")

    assert "按时提交" in lead.inbox[-1].plain
    assert "项目进展周报" in director.inbox[-1].plain and "周 杰" in director.inbox[-1].plain
    async with sessions() as s:
        report = await s.scalar(select(Report).where(Report.form_key == "project_weekly"))
    assert report.period_key == "2026-W48" and report.answers["milestones"] == 2


async def test_a_six_role_person_cannot_file_the_configured_form(
    app, sessions, director, channel_manager
):
    await make_staff(sessions, channel_manager, "channel")
    await channel_manager.send("/project")
    assert "项目负责人" in channel_manager.inbox[-1].plain  # "that is for: 项目负责人"


async def test_a_configured_role_can_name_who_approves_its_joining(
    app, sim, sessions, director, user_ops_manager, lead
):
    """Approved by the activity manager: theirs is the card; a director's press is refused."""
    app.bot_data.settings = with_lead(app.bot_data.settings, approvers=["activity"])
    organiser = user_ops_manager  # an English speaker, here the activity manager
    await make_staff(sessions, organiser, "activity")
    await director.send("/start")
    await organiser.send("/start")
    before = len(director.inbox)

    await lead.send("/start")
    await lead.press(lead.inbox[-1], "项目负责人")
    card = organiser.inbox[-1]
    assert "Project lead" in card.plain and len(director.inbox) == before
    approve = card.buttons[0][0].callback_data
    answer = await director.press_data(card.message_id, card.chat_id, approve)
    assert answer.show_alert and "活动运营经理" in answer.text

    await organiser.press(card, "✅ Approve")
    assert "项目负责人" in lead.inbox[-1].plain and "/project" in lead.inbox[-1].plain


# --- The six roles' menus, and configuration mistakes -------------------------------------

# The menus before forms came from configuration (issue 16 item 4), for the shipped forms.
OLD_MENU = [
    ("daily", "File today's channel-expansion report", {"channel"}),
    ("weekly", "File the weekly user-feedback summary", {"user_ops", "channel"}),
    ("media", "File the weekly new-media report", {"new_media"}),
    ("content", "File the weekly content report", {"content"}),
    ("research", "File a research report", {"new_media", "user_ops", "director"}),
    ("channel", "Channel resource library", {"channel", "director", "user_ops"}),
    ("feedback", "Record a user's feedback", None),
    ("activity", "Propose an activity plan, or list mine", None),
    ("results", "Report the results of an ended activity", None),
    ("mine", "What I proposed, and where it is", None),  # issue 18 added it
    ("pending", "What waits for my decision", {"director"}),
    ("team", "Who has filed today, who is late or away", {"director"}),
    ("budget", "Budgets: used, waiting and left", {"director"}),
    ("kpi", "KPI card: actual against target, and the score", None),
    ("target", "Set a KPI target for a person or the team", {"director"}),
    ("export", "Everything recorded, as a spreadsheet", {"director"}),
    ("my", "My reports and what is due", None),
    ("synonyms", "My own words for report fields", None),  # issue 21 added it
    ("tasks", "My tasks, and the ones I assigned", None),  # issue 17 added these two
    ("assign", "Assign a task with a deadline", None),
    ("leave", "Record days away", None),
    ("help", "What I can do for you", None),
    ("lang", "Change language", None),
    ("cancel", "Cancel what you are doing", None),
    ("invite", "Create an invite link for a role", {"director"}),
    ("staff", "Manage staff and roles", {"director"}),
]
SHIPPED = set(menu.SHIPPED)


class _Person:
    def __init__(self, *roles: str) -> None:
        self.role_names = set(roles)


@pytest.mark.parametrize(
    "roles",
    [
        ("director",),
        ("channel",),
        ("new_media",),
        ("content",),
        ("user_ops",),
        ("activity",),
        ("channel", "user_ops"),
    ],
)
def test_the_six_roles_menus_are_as_before(roles):
    forms = [f for f in default_reports().forms if f.key in SHIPPED]
    expected = [(c, d) for c, d, who in OLD_MENU if who is None or set(roles) & who]
    shown = menu.described(menu.commands_for(_Person(*roles), forms), "en")
    assert shown == expected


def test_pending_is_in_the_menu_of_whoever_an_approval_step_names():
    forms = default_reports().forms  # the content review's first step: the new-media manager
    assert "pending" in dict(menu.commands_for(_Person("new_media"), forms))
    assert "pending" not in dict(menu.commands_for(_Person("channel"), forms))
    assert "mine" in dict(menu.commands_for(_Person("channel"), forms))


def test_a_form_added_to_the_defaults_joins_the_menu_of_who_files_it():
    forms = default_reports().forms
    for form in forms:
        for role in form.roles:
            assert form.command in dict(menu.commands_for(_Person(role), forms))


def test_configuration_mistakes_about_roles_name_the_key(settings):
    reports = tomllib.loads(DEFAULTS_FILE.read_text(encoding="utf-8"))
    reports["forms"].append(PROJECT_FORM)
    with pytest.raises(ConfigError, match=r"reports .*form project_weekly: unknown role"):
        load_settings(reports=reports)
    with pytest.raises(ConfigError, match="files form 'nope'"):
        with_lead(settings, forms=["nope"])
    with pytest.raises(ConfigError, match="unknown approver role 'boss'"):
        with_lead(settings, approvers=["boss"])
    with pytest.raises(ConfigError, match="built-in role"):
        load_settings(roles={"extra": [{**LEAD_ROLE, "key": "channel"}]})
