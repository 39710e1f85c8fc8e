"""/daily end to end: guided and one-message filing, edits, late filing, restarts, bad input."""

import pytest
import time_machine
from sqlalchemy import select
from support import TZ, another_process, local, make_staff

from bot import clock
from bot.models import Draft, Metric, Obligation, Report, ReportVersion, Staff
from jobs.tick import tick


@pytest.fixture
def thursday_morning():
    with time_machine.travel(local("2026-11-26 10:00"), tick=True) as traveller:
        yield traveller


@pytest.fixture
async def wang(app, sim, sessions, channel_manager, director, thursday_morning):
    """The channel manager, on the team, with today's obligation created by the tick."""
    await make_staff(sessions, channel_manager, "channel")
    await director.send("/start")
    await channel_manager.send("/start")
    await tick(app.bot_data, app.bot)
    return channel_manager


def q(person) -> str:
    return person.inbox[-1].plain


async def test_guided_filing_asks_one_question_at_a_time_and_files_on_time(app, sessions, wang):
    await wang.send("/daily")
    assert "1/10" in q(wang) and "今天接触了哪些渠道" in q(wang)

    await wang.send("万科物业")  # not in the library yet: added in two steps
    assert "还不在渠道库中" in q(wang)
    await wang.press(wang.inbox[-1], "沈阳")
    await wang.press(wang.inbox[-1], "物业")
    assert "已选：万科物业" in q(wang) or "万科物业" in q(wang)
    await wang.press(wang.inbox[-1], "完成")

    assert "2/10" in q(wang) and "渠道库统计" in q(wang)  # the new channel is suggested
    await wang.press(wang.inbox[-1], "使用 1")
    await wang.send("2")  # negotiating
    await wang.send("abc")  # contracts signed: not a number
    assert "整数" in q(wang)
    await wang.send("1")
    await wang.send("0")  # deliveries
    await wang.send("1,200")  # downloads
    await wang.send("300")  # registrations
    assert "教会了多少渠道用户" in q(wang)  # 教导渠道用户使用推广产品
    await wang.send("12")
    await wang.press(wang.inbox[-1], "跳过")  # problems are optional
    await wang.send("明天拜访华润物业 <b>&")
    review = q(wang)
    assert "提交" in [b.text.split()[-1] for row in wang.inbox[-1].buttons for b in row]
    assert "万科物业" in review and "1,200" in review and "明天拜访华润物业 <b>&" in review
    assert "&lt;b&gt;&amp;" in wang.inbox[-1].text  # escaped in what was sent

    await wang.press(wang.inbox[-1], "✅ 提交")

    assert "按时提交" in q(wang)
    async with sessions() as s:
        report = await s.scalar(select(Report))
        metrics = {m.field_key: int(m.value) for m in await s.scalars(select(Metric))}
        obligation = await s.scalar(select(Obligation).where(Obligation.period_key == "2026-11-26"))
    assert report.period_key == "2026-11-26" and not report.late
    assert metrics == {
        "contacted": 1,
        "new_channels": 1,
        "negotiating": 2,
        "contracts_signed": 1,
        "deliveries": 0,
        "downloads": 1200,
        "registrations": 300,
        "users_trained": 12,
    }
    assert obligation.status == "filed"


ONE_MESSAGE = """/daily
新增入库渠道数：0
洽谈中的渠道数: 3
今日签约数：1
今日交付/上线数：0
渠道带来的下载量：500
渠道带来的注册量：120
下一个工作日计划：跟进万科
准备合同"""


async def test_one_message_filing_goes_straight_to_the_summary_card(app, sessions, wang):
    await wang.send(ONE_MESSAGE)
    review = q(wang)
    assert "请核对" in review and "渠道带来的下载量：500" in review
    assert "下一个工作日计划：跟进万科 准备合同" in review  # one line on the card
    await wang.press(wang.inbox[-1], "✅ 提交")
    async with sessions() as s:
        report = await s.scalar(select(Report))
    assert report.answers["downloads"] == 500 and report.answers["plan"] == "跟进万科\n准备合同"


async def test_one_message_with_a_bad_value_asks_for_just_that_field(app, wang):
    await wang.send(ONE_MESSAGE.replace("渠道带来的下载量：500", "渠道带来的下载量：很多"))
    assert "渠道带来的下载量" in q(wang) and "整数" in q(wang)
    await wang.send("500")
    assert "请核对" in q(wang)  # back to the summary, the rest was kept


@pytest.mark.databases
async def test_a_report_can_be_edited_until_it_closes_and_versions_are_kept(app, sessions, wang):
    await wang.send(ONE_MESSAGE)
    await wang.press(wang.inbox[-1], "✅ 提交")

    await wang.send("/daily")
    assert "正在修改" in q(wang)
    await wang.press(wang.inbox[-1], "✏️ 修改某项")
    await wang.press(wang.inbox[-1], "渠道带来的下载量")
    await wang.send("800")
    await wang.press(wang.inbox[-1], "✅ 提交")

    assert "版本 2" in q(wang)
    async with sessions() as s:
        report = await s.scalar(select(Report))
        versions = list(await s.scalars(select(ReportVersion).order_by(ReportVersion.version)))
        downloads = await s.scalar(select(Metric.value).where(Metric.field_key == "downloads"))
    assert [v.answers["downloads"] for v in versions] == [500, 800]
    assert report.version == 2 and int(downloads) == 800


async def test_a_report_after_the_due_time_is_kept_and_marked_late(app, sessions, wang):
    with time_machine.travel(local("2026-11-26 19:30"), tick=True):
        await wang.send(ONE_MESSAGE)
        await wang.press(wang.inbox[-1], "✅ 提交")
    assert "逾期" in q(wang) or "迟交" in q(wang)
    async with sessions() as s:
        assert (await s.scalar(select(Report))).late
        today = select(Obligation).where(Obligation.period_key == "2026-11-26")
        assert (await s.scalar(today)).status == "late"


@pytest.mark.databases
async def test_half_past_midnight_still_files_for_yesterday(app, sessions, wang):
    with time_machine.travel(local("2026-11-27 00:30"), tick=True):
        await tick(app.bot_data, app.bot)
        await wang.send(ONE_MESSAGE)
        assert "2026年11月26日" in q(wang)
        await wang.press(wang.inbox[-1], "✅ 提交")
    async with sessions() as s:
        assert (await s.scalar(select(Report))).period_key == "2026-11-26"


async def test_a_restart_mid_form_loses_nothing(app, sim, settings, engine, wang):
    await wang.send("/daily")
    await wang.press(wang.inbox[-1], "跳过")
    await wang.send("0")
    await wang.send("4")  # negotiating

    # A new process takes the next message: nothing of the old one is in memory.
    async with another_process(sim, settings, engine):
        assert "4/10" in q(wang)
        await wang.send("2")
        assert "5/10" in q(wang)
        await wang.send("/daily")
        assert "接着上次" in q(wang) and "5/10" in q(wang)


async def test_an_old_card_button_is_refused_and_the_current_question_resent(app, sessions, wang):
    await wang.send("/daily")
    card = wang.inbox[-1]
    await wang.press(card, "跳过")  # the card now asks question 2
    await wang.send("3")  # answered by typing: question 3 comes as a new message

    answer = await wang.press(card, "« 返回")  # a button of the old question 2

    assert answer.show_alert and "过期" in answer.text
    assert "3/10" in q(wang)
    async with sessions() as s:
        draft = await s.scalar(select(Draft))
    assert draft.cursor == "2" and draft.answers["new_channels"] == 3


@pytest.mark.parametrize(
    "typed, expected",
    [("-5", "0–1,000"), ("1000000000000000", "0–1,000"), ("😀", "整数"), ("3.5", "整数")],
)
async def test_bad_numbers_are_re_asked_with_the_reason(app, sessions, wang, typed, expected):
    await wang.send("/daily")
    await wang.press(wang.inbox[-1], "跳过")
    await wang.send(typed)
    assert "2/10" in q(wang) and expected in q(wang)
    async with sessions() as s:
        assert await s.scalar(select(Report)) is None


async def test_a_5000_character_answer_is_refused_with_the_limit(app, wang):
    await wang.send(ONE_MESSAGE.replace("跟进万科", "长" * 5000))
    assert "1000" in q(wang) or "1,000" in q(wang)


async def test_daily_on_a_day_off_says_nothing_is_due_and_files_anyway_on_request(
    app, sessions, wang
):
    await wang.send(ONE_MESSAGE)
    await wang.press(wang.inbox[-1], "✅ 提交")
    with time_machine.travel(local("2026-11-27 10:00"), tick=True):
        await wang.send(ONE_MESSAGE)
        await wang.press(wang.inbox[-1], "✅ 提交")
    with time_machine.travel(local("2026-11-28 10:00"), tick=True):  # Saturday
        await wang.send("/daily")
        assert "现在没有需要提交的渠道拓展日报" in q(wang)
        assert "修改 11-27 的汇报" in wang.inbox[-1].labels
        await wang.press(wang.inbox[-1], "仍然提交今天的")
        assert "1/10" in q(wang) and "2026年11月28日" in q(wang)


async def test_on_a_day_off_the_last_report_can_still_be_edited(app, sessions, wang):
    with time_machine.travel(local("2026-11-27 13:00"), tick=True):  # Thursday has closed
        await wang.send(ONE_MESSAGE)
        await wang.press(wang.inbox[-1], "✅ 提交")
    with time_machine.travel(local("2026-11-28 10:00"), tick=True):
        await wang.send("/daily")
        await wang.press(wang.inbox[-1], "修改 11-27 的汇报")
        assert "正在修改" in q(wang) and "2026年11月27日" in q(wang)


@pytest.mark.databases
async def test_two_dailies_at_once_continue_one_draft(app, wang):
    await wang.send("/daily")
    await wang.press(wang.inbox[-1], "跳过")
    await wang.send("/daily")
    assert "接着上次" in q(wang) and "2/10" in q(wang)


async def test_cancel_drops_the_draft(app, sessions, wang):
    await wang.send("/daily")
    await wang.send("/cancel")
    assert "已取消" in q(wang)
    await wang.send("/daily")
    assert "1/10" in q(wang)


async def test_my_shows_what_is_due_and_what_was_filed(app, wang):
    await wang.send("/my")
    assert "2026年11月26日" in q(wang)
    await wang.send(ONE_MESSAGE)
    await wang.press(wang.inbox[-1], "✅ 提交")
    await wang.send("/my")
    assert "渠道拓展日报" in q(wang)


async def test_people_without_the_role_cannot_file(app, sessions, user_ops_manager):
    await make_staff(sessions, user_ops_manager, "user_ops")
    await user_ops_manager.send("/daily")
    assert "That is for: Channel-expansion manager" in q(user_ops_manager)


async def test_a_typed_channel_like_one_in_the_library_is_pointed_out(app, sessions, wang):
    await wang.send("/channel new 万科物业有限公司")
    await wang.press(wang.inbox[-1], "沈阳")
    await wang.press(wang.inbox[-1], "物业")
    await wang.send("/daily")
    await wang.send("万科物业")  # same normalised name as the one in the library…
    # …found directly, so nothing to add
    assert "已选：万科物业有限公司" in q(wang)
    await wang.send("万科物业 沈阳分部")  # a new name: two steps, the twin check on region
    await wang.press(wang.inbox[-1], "沈阳")
    assert "物业" in wang.inbox[-1].labels  # no twin: asks the industry
    await wang.press(wang.inbox[-1], "« 返回")
    assert "已选：万科物业有限公司" in q(wang)  # the picks survive backing out


async def test_a_typed_name_of_a_library_channel_reuses_it(app, sessions, wang):
    from bot.models import Channel
    from bot.services import channels

    async with sessions() as s, s.begin():
        me = await s.scalar(select(Staff).where(Staff.telegram_id == wang.id))
        await channels.create(
            s,
            name="华润物业",
            industry="property",
            region="dalian",
            actor=me,
            day=clock.now().astimezone(TZ).date(),
        )
    await wang.send("/daily")
    await wang.send("华润物业有限公司")
    assert "已选：华润物业" in q(wang)
    async with sessions() as s:
        assert len(list(await s.scalars(select(Channel)))) == 1


async def test_the_twin_in_the_chosen_region_is_offered_before_creating(app, sessions, wang):
    from bot.calendar import local_date
    from bot.forms import flow
    from bot.models import Channel
    from bot.services import channels

    async with sessions() as s, s.begin():
        me = await s.scalar(select(Staff).where(Staff.telegram_id == wang.id))
        await channels.create(
            s,
            name="华润物业",
            industry="property",
            region="dalian",
            actor=me,
            day=clock.now().astimezone(TZ).date(),
        )
        ctx = flow.FlowContext(
            me,
            app.bot_data.settings.reports.form("daily_channel"),
            app.bot_data.settings.reports,
            local_date(clock.now(), TZ),
        )
        step = await flow.begin(s, ctx)
        # As if the name had been typed and not found (e.g. the library changed meanwhile).
        step.draft.scratch = {"sel": [], "new": {"name": "华润物业", "queue": []}}
        step = await flow.press(s, step.draft, ctx, "c", "dalian")
        assert step.new_channel["twin"]["name"] == "华润物业"
        assert [k for k, _ in step.options] == ["use", "new"]
        step = await flow.press(s, step.draft, ctx, "c", "use")
        assert step.selected == [{"id": step.selected[0]["id"], "name": "华润物业"}]
        assert "channel_reused" in step.notes
    async with sessions() as s:
        assert len(list(await s.scalars(select(Channel)))) == 1


async def test_an_unknown_region_typed_for_a_new_channel_is_re_asked(app, wang):
    await wang.send("/daily")
    await wang.send("新渠道甲")
    await wang.send("火星")
    assert "未识别该地区" in q(wang) and "新渠道甲" in q(wang)
    await wang.send("沈阳")
    assert "属于哪个行业" in q(wang)


async def test_a_field_removed_from_config_does_not_break_filed_reports(
    app, sim, sessions, settings, engine, wang
):
    await wang.send(ONE_MESSAGE)
    await wang.press(wang.inbox[-1], "✅ 提交")

    # The department drops "downloads" from the form; the bot restarts with the new config.
    daily = settings.reports.form("daily_channel")
    slimmer = daily.model_copy(
        update={"fields": tuple(f for f in daily.fields if f.key != "downloads")}
    )
    reports_cfg = settings.reports.model_copy(update={"forms": (slimmer,)})
    changed = settings.model_copy(update={"reports": reports_cfg})
    async with another_process(sim, changed, engine):
        await wang.send("/daily")  # edit today's report under the new form
        assert "正在修改" in q(wang) and "下载量" not in q(wang)
        await wang.press(wang.inbox[-1], "✅ 提交")
        assert "版本 2" in q(wang)
    async with sessions() as s:
        report = await s.scalar(select(Report))
    assert report.answers["downloads"] == 500  # kept, with its label in the snapshot
    assert report.fields["downloads"]["label"]["zh"] == "渠道带来的下载量"


async def test_two_daily_at_once_make_one_draft_and_the_second_continues_it(app, sessions, wang):
    from bot.calendar import local_date
    from bot.forms import flow
    from bot.models import Draft
    from bot.services import held

    async def started(seen_none: bool):
        async with sessions() as s, s.begin():
            me = await s.scalar(select(Staff).where(Staff.telegram_id == wang.id))
            if seen_none:  # it looked before the other one's draft was committed
                held.keep(s, Draft, me.id, None)
            settings = app.bot_data.settings
            ctx = flow.FlowContext(
                me, settings.reports.form("daily_channel"), settings.reports,
                local_date(clock.now(), TZ),
            )  # fmt: skip
            step = await flow.begin(s, ctx)
            return step.draft.id, step.notes

    first, _ = await started(seen_none=False)
    second, notes = await started(seen_none=True)
    assert second == first and "resumed" in notes
    async with sessions() as s:
        assert len(list(await s.scalars(select(Draft)))) == 1
